"""The team's settings pages in a real browser: phone numbers, do not call, API keys and webhooks, each used once as
a person would (with pictures for the docs); then every page on a phone screen with JavaScript off."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import phone_without_javascript, screenshot, sign_in
from tests.support import LiveServer, TeamClient


def test_phone_numbers_page(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    page.get_by_role("link", name="Phone numbers").click()
    form = page.get_by_role("form", name="Add a number")
    form.get_by_label("Number", exact=True).fill("+1 202 555 0177")
    form.get_by_label("Label").fill("Support line")
    form.get_by_label("Calls per second").fill("0.5")
    form.get_by_label("Calls at the same time").fill("4")
    form.get_by_role("button", name="Add the number").click()
    expect(page.get_by_role("status")).to_have_text("The number was added.")
    row = page.locator("#numbers tr", has_text="+12025550177")
    expect(row).to_contain_text("Support line")
    expect(row).to_contain_text("0.5")
    screenshot(page, "phone-numbers")

    row.get_by_role("link", name="Edit").click()
    page.get_by_label("Label").fill("Support line (US)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert [n["label"] for n in caller_team.data(caller_team.get("/v1/phoneNumbers"))].count("Support line (US)") == 1


def test_do_not_call_page(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    page.get_by_role("link", name="Do not call").click()
    form = page.get_by_role("form", name="Add a number")
    form.get_by_label("Number").fill("+1 202 555 0190")
    form.get_by_label("Reason").fill("Asked not to be called again")
    form.get_by_role("button", name="Add to the list").click()
    expect(page.get_by_role("status")).to_have_text("+12025550190 is on the do-not-call list.")
    expect(page.locator("#entries")).to_contain_text("Asked not to be called again")
    screenshot(page, "do-not-call")

    page.get_by_role("button", name="Remove +12025550190 from the list").click()
    expect(page.get_by_role("status")).to_contain_text("taken off the list")
    assert caller_team.data(caller_team.get("/v1/doNotCall")) == []


def test_api_keys_page(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("CRM sync")
    page.get_by_role("button", name="Create the key").click()
    new_key = page.get_by_label("API key", exact=True).input_value()
    assert new_key.startswith("oc_")
    screenshot(page, "api-keys")

    page.get_by_role("link", name="API keys").click()
    expect(page.locator("main")).not_to_contain_text(new_key)
    page.get_by_role("link", name="Revoke CRM sync").click()
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_role("status")).to_contain_text("The key was revoked")
    page.get_by_role("link", name="Revoke default").click()
    expect(page.get_by_role("alert")).to_have_text("This session is signed in with this key: you will be signed out.")
    page.get_by_role("button", name="Revoke the key").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")


def test_webhooks_page(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    page.get_by_role("link", name="Webhooks").click()
    form = page.get_by_role("form", name="Add a subscription")
    form.get_by_label("URL").fill("http://192.168.0.10/hooks")
    form.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#url-error")).to_contain_text("refused")
    expect(page.get_by_label("URL")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("URL").fill("https://crm.example.com/hooks/opencaller")
    form.get_by_label("All events").uncheck()
    form.get_by_label("phoneCall.ended").check()
    form.get_by_role("button", name="Subscribe").click()
    secret = page.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_")
    expect(page.locator("#subscriptions")).to_contain_text("phoneCall.ended")
    screenshot(page, "webhooks")
    [sub] = caller_team.data(caller_team.get("/v1/webhooks"))
    assert (sub["url"], sub["events"]) == ("https://crm.example.com/hooks/opencaller", ["phoneCall.ended"])


def test_the_pages_fit_a_phone_screen_without_javascript(
    browser: Browser, dashboard_server: LiveServer, caller_team: TeamClient
) -> None:
    template = caller_team.add_template(name="Phone check")
    made = caller_team.http.post(
        "/v1/files",
        data={"callTemplateId": template["_id"], "callDelayedUntil": "2099-01-01T00:00:00Z"},
        files={"file": ("later.csv", b"phone,customer_name\n+12025550155,Ann\n", "text/csv")},
    )
    lead_file = caller_team.data(made)
    caller_team.post("/v1/doNotCall", {"number": "+12025550156", "reason": "asked"})
    caller_team.post("/v1/webhooks", {"url": "https://crm.example.com/a/rather/long/path/for/webhooks/opencaller"})
    with phone_without_javascript(browser, dashboard_server, caller_team.api_key) as phone:
        paths = (
            "/dashboard/files",
            "/dashboard/files/new",
            f"/dashboard/files/{lead_file['_id']}",
            "/dashboard/phone-numbers",
            "/dashboard/do-not-call",
            "/dashboard/api-keys",
            "/dashboard/webhooks",
        )
        for path in paths:
            phone.goto(path)
            fits = phone.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            assert fits, f"{path} scrolls sideways on a phone"
        phone.goto(f"/dashboard/files/{lead_file['_id']}")
        expect(phone.locator("#progress-text")).to_have_text("0 of 1 call finished, 1 to go")
        screenshot(phone, "lead-list-phone")
        phone.get_by_role("button", name="Cancel the queued call").click()
        expect(phone.locator("#progress-text")).to_have_text("1 of 1 call finished")
        phone.goto("/dashboard/do-not-call")
        expect(phone.locator("#entries")).to_contain_text("+12025550156")
