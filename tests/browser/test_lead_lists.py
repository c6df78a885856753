"""A lead list in a real browser: upload a 5-row CSV for a template with a column mapping, read the validation
report, watch the calls to the simulator finish on the page, and download the results spreadsheet."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import screenshot, sign_in
from tests.support import TeamClient

CALLS_DEADLINE_MS = 120_000
"""How long the three short calls may take on a slow machine before the test gives up waiting."""

LEADS = [
    ["Client", "Phone", "Company"],
    ["Bea", "(202) 555-0101", "Busy Bees"],  # the simulator's busy line
    ["Ned", "202 555 0105", "Nowhere Inc"],  # unroutable: fails without ringing
    ["Hal", "+1 202-555-0108", "Hangup Ltd"],  # answers and hangs up at once
    ["Dup", "2025550101", "Busy Bees again"],  # the same number as row 1: rejected
    ["Bad", "12", "Typo Corp"],  # not a phone number: rejected
]
EXPECTED = {
    "+12025550101": ("Bea", "busy", ""),
    "+12025550105": ("Ned", "failed", ""),
    "+12025550108": ("Hal", "completed", "HUNG_UP_BY_HUMAN"),
}


def test_upload_report_progress_and_results(page: Page, caller_team: TeamClient, tmp_path: Path) -> None:
    caller_team.add_template(
        name="Other template", firstMessage="Hello!", promptVariables=[{"key": "city", "required": False}]
    )
    template = caller_team.add_template(name="Lead follow-up", resultColumns=[{"columnName": "interest"}])
    leads = tmp_path / "spring-leads.csv"
    with leads.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(LEADS)

    sign_in(page, caller_team.api_key)
    page.get_by_role("link", name="Lead lists").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Lead lists")
    page.get_by_role("link", name="Upload a lead list").click()

    # htmx swaps in the chosen template's variable fields; without JavaScript a link does the same
    page.get_by_label("Template", exact=True).select_option(label="Other template")
    expect(page.get_by_label("Column for city")).to_be_visible()
    page.get_by_label("Template", exact=True).select_option(label="Lead follow-up")
    expect(page.get_by_label("Column for customer_name (required)")).to_be_visible()

    page.get_by_label("CSV file").set_input_files(leads)
    page.get_by_label("Default country").fill("US")
    page.get_by_label("Name column").fill("Client")
    page.get_by_label("Column for customer_name (required)").fill("Client")
    page.get_by_role("button", name="Upload and queue the calls").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("spring-leads.csv")
    expect(page.get_by_role("status").first).to_have_text(
        "Imported: 3 of 5 rows queued as calls, 2 rejected (see below)."
    )
    expect(page.locator("#accepted-count")).to_have_text("3")
    rejected = page.locator("#rejected-rows tbody tr")
    expect(rejected).to_have_count(2)
    expect(rejected.nth(0)).to_contain_text("4")
    expect(rejected.nth(0)).to_contain_text("+12025550101 is a duplicate of row 1")
    expect(rejected.nth(1)).to_contain_text("5")
    expect(rejected.nth(1)).to_contain_text("Phone:")

    page.evaluate("window.stillTheSamePage = true")
    expect(page.locator("#progress-text")).to_have_text("3 of 3 calls finished", timeout=CALLS_DEADLINE_MS)
    # htmx refreshed the progress in place until every call was over
    assert page.evaluate("window.stillTheSamePage === true")
    by_status = page.locator("#by-status")
    for status, count in (("busy", "1"), ("failed", "1"), ("completed", "1"), ("queued", "0")):
        expect(by_status.locator("tr", has=page.locator(f".status-{status}")).locator("td")).to_have_text(count)
    expect(page.locator("#by-status-code")).to_contain_text("HUNG_UP_BY_HUMAN")
    expect(page.get_by_role("button", name="Cancel the")).to_have_count(0)  # nothing left to cancel
    screenshot(page, "lead-list")

    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download the results (CSV)").click()
    download = downloading.value
    assert download.suggested_filename == "spring-leads-results.csv"
    rows = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"), newline="")))
    header = rows[0]
    assert header[:3] == LEADS[0]  # the file's own columns first, unchanged
    assert header[3:6] == ["status", "statusCode", "attempts"] and "interest" in header
    status, code = header.index("status"), header.index("statusCode")
    got = {row[1]: (row[0], row[status], row[code]) for row in rows[1:]}
    by_original = {LEADS[i][1]: LEADS[i][0] for i in (1, 2, 3)}
    assert set(got) == set(by_original)  # one row per accepted lead, its number as written
    assert sorted(got.values()) == sorted(EXPECTED.values())

    page.get_by_role("link", name="All lead lists").click()
    row = page.locator("table.cards tbody tr").first
    expect(row).to_contain_text("spring-leads.csv")
    expect(row).to_contain_text("3 accepted, 2 rejected")
    expect(row).to_contain_text("3 of 3 finished")
    stored = caller_team.data(caller_team.get("/v1/files"))
    assert [(f["fileName"], f["callTemplateId"], f["acceptedCount"]) for f in stored] == [
        ("spring-leads.csv", template["_id"], 3)
    ]
