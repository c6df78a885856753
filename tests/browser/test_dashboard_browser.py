"""The dashboard in a real browser: sign in, write a template in the form, place a test call to the simulator's
cooperative callee, watch it complete live, and read its transcript and results; plus what must be refused."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import phone_without_javascript, screenshot, sign_in, text
from tests.support import LiveServer, TeamClient

COLUMNS = [
    ("name", "text", "May I have your full name, please?"),
    ("city", "text", "Which city do you live in?"),
    ("email", "text", "What is your email address?"),
    ("interest", "text", "What are you interested in?"),
    ("followUp", "boolean", "Is it okay if we give you a follow-up call?"),
]
"""The questions the simulator's cooperative callee (+12025550100) answers well."""
CALL_DEADLINE_MS = 180_000
"""How long a whole conversation may take on a slow machine before the test gives up waiting."""


def test_a_bad_key_is_refused_and_a_good_one_signs_in(page: Page, caller_team: TeamClient) -> None:
    page.goto("/dashboard/calls")
    expect(page).to_have_url(text(r"/dashboard/sign-in\?next=%2Fdashboard%2Fcalls$"))
    screenshot(page, "sign-in")

    page.get_by_label("API key").fill("oc_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("this API key is unknown or has been revoked")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")

    page.get_by_label("API key").fill(caller_team.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(text(r"/dashboard/calls$"))
    expect(page.get_by_role("navigation", name="Main")).to_contain_text("Templates")
    expect(page.locator(".team")).to_have_text("Sunny Solar")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/dashboard/calls")
    expect(page).to_have_url(text(r"/dashboard/sign-in\?next="))


def _create_template(page: Page) -> str:
    page.goto("/dashboard/templates")
    page.get_by_role("link", name="New template").click()
    page.get_by_label("Name", exact=True).fill("Solar leads")
    page.get_by_label("Prompt").fill("You are Sam from Sunny Solar, calling {{customer_name}} about rooftop solar.")
    page.get_by_label("First message").fill("Hi {{customer_name}}, this is Sam from Sunny Solar.")
    variable = page.get_by_role("group", name="Variable 1")
    variable.get_by_label("Key").fill("customer_name")
    variable.get_by_label("Description").fill("Who we are calling")
    for _ in range(len(COLUMNS) - 2):  # the form has two blank rows; each press adds one, without JavaScript
        page.get_by_role("button", name="Add a result column row").click()
    for index, (name, kind, question) in enumerate(COLUMNS, start=1):
        row = page.get_by_role("group", name=f"Result column {index}")
        row.get_by_label("Column name").fill(name)
        row.get_by_label("Type").select_option(kind)
        row.get_by_label("Question").fill(question)
    tag = page.get_by_role("group", name="Tag 1")
    tag.get_by_label("Tag").fill("solar")
    tag.get_by_label("Keywords").fill("solar panels, roof")
    screenshot(page, "template-form")
    page.get_by_role("button", name="Create template").click()
    expect(page.get_by_role("status")).to_have_text("Saved as version 1.")
    expect(page.get_by_role("group", name="Result column 5").get_by_label("Column name")).to_have_value("followUp")
    template_id = page.url.split("/dashboard/templates/")[1].split("?")[0]
    return template_id


def _as_shown(value: object) -> str:
    """How the call page writes a result value."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return " ".join(str(value).split())  # as HTML lays text out


def test_template_form_test_call_and_live_conversation(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    template_id = _create_template(page)
    stored = caller_team.data(caller_team.get(f"/v1/callTemplates/{template_id}"))
    assert [c["columnName"] for c in stored["resultColumns"]] == [c[0] for c in COLUMNS]
    assert stored["promptVariables"][0]["key"] == "customer_name"
    assert stored["customTags"] == [{"name": "solar", "description": "", "keywords": ["solar panels", "roof"]}]

    page.get_by_role("link", name="Test call").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Test call with “Solar leads”")
    page.get_by_label("0100 · cooperative person").check()
    page.get_by_label("customer_name").fill("Alex")
    page.get_by_label("Record the call").check()
    screenshot(page, "test-call")
    page.get_by_role("button", name="Place the test call").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Call to +12025550100 (Alex)")
    page.evaluate("window.stillTheSamePage = true")
    status = page.locator("#call-status")
    # the conversation shows while it happens: the first turn appears while the call is still in progress
    expect(page.locator("#transcript .turn").first).to_be_visible(timeout=CALL_DEADLINE_MS)
    assert status.inner_text() == "in progress", "the transcript appeared only once the call was over"
    expect(status).to_have_text("completed", timeout=CALL_DEADLINE_MS)
    # htmx refreshed the call in place: the page was never reloaded while the call went on
    assert page.evaluate("window.stillTheSamePage === true")

    expect(page.locator("#call-outcome")).to_have_text("ENDED_NORMALLY")
    call_id = page.url.rsplit("/", 1)[1]
    stored = caller_team.data(caller_team.get(f"/v1/phoneCalls/{call_id}"))
    turns = caller_team.data(caller_team.get("/v1/transcripts", params={"phoneCallId": call_id}))
    # the page shows what the call stored: every result column, every turn (the conversation's quality itself
    # is the voice agent's tests' business)
    shown = dict(
        zip(
            page.locator("#results tbody th").all_inner_texts(),
            [" ".join(cell.split()) for cell in page.locator("#results tbody td").all_inner_texts()],
            strict=True,
        )
    )
    assert list(shown) == [name for name, _, _ in COLUMNS]
    assert shown == {item["columnName"]: _as_shown(item["value"]) for item in stored["resultValues"]}
    assert any(value != "—" for value in shown.values()), "the callee answered nothing the agent understood"
    transcript = page.locator("#transcript")
    expect(transcript.locator(".turn.agent").first).to_contain_text("Hi Alex, this is Sam from Sunny Solar.")
    expect(transcript.locator(".turn.human").first).to_be_visible()
    shown_turns = [" ".join(said.split()) for said in transcript.locator(".turn .said").all_inner_texts()]
    assert shown_turns == [" ".join(turn["text"].split()) for turn in turns]  # HTML collapses runs of spaces
    expect(page.locator("#call-tags")).to_have_text(", ".join(stored["customTagsHitOnCall"] or []) or "—")
    expect(page.locator(".timeline")).to_contain_text("attempt 1 dialled")
    player = page.get_by_label("Recording of the call")
    expect(player).to_have_attribute("src", text(r"/v1/phoneCalls/[0-9a-f]{24}/recording\?expires=\d+&signature="))
    recording = page.request.get(player.get_attribute("src") or "")
    assert recording.status == 200 and recording.headers["content-type"] == "audio/wav"
    assert recording.body()[:4] == b"RIFF"
    screenshot(page, "call")

    page.get_by_role("link", name="All calls").click()
    row = page.locator("#call-rows tr").first
    expect(row).to_contain_text("+12025550100")
    expect(row).to_contain_text("completed")
    expect(row).to_contain_text("Solar leads")
    screenshot(page, "calls")


def test_a_form_posted_without_its_csrf_token_is_refused(page: Page, caller_team: TeamClient) -> None:
    sign_in(page, caller_team.api_key)
    page.goto("/dashboard/templates/new")
    page.get_by_label("Name", exact=True).fill("Forged")
    page.evaluate("document.querySelector('main form input[name=csrf_token]').remove()")
    with page.expect_response(lambda response: response.request.method == "POST") as posted:
        page.get_by_role("button", name="Create template").click()
    assert posted.value.status == 403
    expect(page.get_by_role("heading", level=1)).to_have_text("Forbidden")
    assert caller_team.data(caller_team.get("/v1/callTemplates")) == []


def test_another_teams_call_is_not_found(page: Page, dashboard_server: LiveServer, caller_team: TeamClient) -> None:
    other = dashboard_server.new_team("Globex")
    other.add_number("+12025550188")
    template = other.add_template()
    body = other.call_body(template["_id"], toPhoneNumber="+12025550177", callDelayedUntil="2099-01-01T00:00:00Z")
    secret_call = other.data(other.post("/v1/phoneCalls", body))

    sign_in(page, caller_team.api_key)
    response = page.goto(f"/dashboard/calls/{secret_call['_id']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.locator("main")).not_to_contain_text("+12025550177")
    page.goto("/dashboard/calls")
    expect(page.locator("#call-rows")).not_to_contain_text("+12025550177")


def test_pages_fit_a_phone_screen_and_show_their_data_without_javascript(
    browser: Browser, dashboard_server: LiveServer, caller_team: TeamClient
) -> None:
    template = caller_team.add_template(name="Phone check")
    body = caller_team.call_body(template["_id"], toPhoneNumber="+12025550166", callDelayedUntil="2099-01-01T00:00:00Z")
    call = caller_team.data(caller_team.post("/v1/phoneCalls", body))
    with phone_without_javascript(browser, dashboard_server, caller_team.api_key) as phone:
        for path in ("/dashboard/calls", f"/dashboard/calls/{call['_id']}", f"/dashboard/templates/{template['_id']}"):
            phone.goto(path)
            # Playwright's own probes still run with the page's scripts switched off
            fits = phone.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
            assert fits, f"{path} scrolls sideways on a phone"
        phone.goto("/dashboard/calls")
        expect(phone.locator("#call-rows")).to_contain_text("+12025550166")
        expect(phone.locator("#call-rows")).to_contain_text("queued")
        screenshot(phone, "calls-phone")
        phone.goto(f"/dashboard/calls/{call['_id']}")
        expect(phone.locator("#call-status")).to_have_text("queued")
        expect(phone.get_by_role("navigation", name="Main")).to_be_visible()
