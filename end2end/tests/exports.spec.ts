// The Data Exports page as each role uses it: the gate, the table and its badges, the New Export
// dialog (keyboard only), Refresh, Download in a new tab, Delete and Cancel with confirmation (in
// the app's dialog, or on pages of their own without JavaScript), Run again, and the retention.
import { Download, expect, test } from "@playwright/test";
import { hydrated, screenshot, signIn } from "./helpers";

const table = (page) => page.locator("table.data-table");
const rows = (page) => page.locator("table.data-table tbody tr");

/** Clicks Refresh (the page does not poll) until the newest export has completed. */
async function refreshUntilCompleted(page) {
  await expect(async () => {
    const refresh = page.getByRole("button", { name: "Refresh" });
    if (await refresh.count()) await refresh.click();
    await expect(rows(page).first().locator(".badge-completed")).toBeVisible({ timeout: 500 });
  }).toPass({ timeout: 30_000 });
  // Nothing is pending or processing any more: Refresh is gone.
  await expect(page.getByRole("button", { name: "Refresh" })).toHaveCount(0);
}

/** Requests an audit trail through the New Export dialog; returns the row count before it and
 * the dialog. An entity type ticked first for "Selected records" must not be sent with it. */
async function requestAuditTrail(page) {
  await expect(page.locator("table.data-table, .empty-state")).toBeVisible();
  const before = await rows(page).count();
  await page.getByRole("button", { name: "New Export" }).click();
  const dialog = page.getByRole("dialog", { name: "New export" });
  await dialog.getByLabel("Clients").check();
  await dialog.getByLabel("Audit trail").check();
  await dialog.getByLabel("Purpose").selectOption("health_oversight");
  await dialog.getByLabel("Recipient").fill("internal: compliance");
  await dialog.getByRole("button", { name: "Request export" }).click();
  return { before, dialog };
}

/** Today in `zone`, as YYYY-MM-DD. */
function todayIn(zone: string): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(new Date());
}

/** Clicks a row's Download and returns the file the new tab downloads. */
async function downloadFrom(page, context, row) {
  const downloaded = new Promise<Download>((resolve) =>
    context.once("page", (tab) => tab.once("download", resolve)),
  );
  await row.getByRole("button", { name: "Download" }).click();
  return downloaded;
}

test("the member with no role sees the lock and no data", async ({ page }, info) => {
  await signIn(page, "norole@globex.test", info);
  await expect(page.getByRole("heading", { name: "Access denied" })).toBeVisible();
  await expect(table(page)).toHaveCount(0);
  expect(await page.content()).not.toContain("Audit trail");
  if (hydrated(info)) await screenshot(page, "01-gated-no-role");
});

test("staff see every status but can neither create nor delete", async ({ page }, info) => {
  await signIn(page, "staff@globex.test", info);
  await expect(rows(page)).toHaveCount(4);
  // A request scoped to dates shows them beside its record types.
  await expect(page.locator('tr[data-status="completed"] .date-range')).toHaveText("1 Oct 2026 – 31 Oct 2026");
  // Completed rows say how often their file was fetched (the Download test may have run first).
  await expect(page.locator('tr[data-status="completed"] .downloads')).toHaveText(
    /^(Not downloaded yet|Downloaded once|Downloaded \d+ times)$/,
  );
  await expect(page.getByRole("button", { name: "New Export" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Delete export" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Cancel export" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Run again" })).toHaveCount(0);
  // The completed file says when it expires, and how long files are kept; no form to change it.
  await expect(page.locator('tr[data-status="completed"] .expiry')).toContainText("Expires in 3 days");
  await expect(page.getByText("Completed files are kept for 7 days, then deleted (the default).")).toBeVisible();
  await expect(page.getByLabel("Keep files for")).toHaveCount(0);
  // Newest first; formats in capitals; one badge per status.
  await expect(rows(page).nth(0)).toContainText("De-identified dataset");
  await expect(rows(page).nth(0)).toContainText("CSV");
  await expect(rows(page).nth(1)).toContainText("XLSX");
  for (const status of ["pending", "processing", "completed", "failed"]) {
    await expect(page.locator(`.badge-${status}`)).toHaveCount(1);
  }
  await expect(page.locator(".badge-processing")).toContainText("40%");
  // Download only on the completed row; Refresh because something is still running.
  await expect(page.getByRole("button", { name: "Download" })).toHaveCount(1);
  await expect(page.locator('tr[data-status="completed"]').getByRole("button", { name: "Download" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Refresh" })).toBeVisible();
});

test("a request's details say what, why, for whom, by whom, and the file's digest", async ({ page }, info) => {
  await signIn(page, "staff@globex.test", info);
  await page.locator('tr[data-status="completed"]').getByRole("link", { name: "Selected records" }).click();
  await expect(page).toHaveURL(/\/settings\/exports\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: "Selected records" })).toBeVisible();
  const details = page.locator("dl.details");
  await expect(details).toContainText("1 Oct 2026 – 31 Oct 2026 (Europe/London)");
  await expect(details).toContainText("Payment");
  await expect(details).toContainText("internal: finance team");
  await expect(details).toContainText("Globex Admin <admin@globex.test>");
  await expect(details).toContainText("Clients: 2");
  await expect(details.locator("code.digest")).toHaveText(/^[0-9a-f]{64}$/);
  await expect(details).toContainText(/Not downloaded yet|Downloaded (once|\d+ times), the last by /);
  if (hydrated(info)) await screenshot(page, "08-details");
  await page.getByRole("link", { name: "← Data Exports" }).click();
  await expect(rows(page)).toHaveCount(4);
});

test("the failed badge reveals its reason on keyboard focus", async ({ page }, info) => {
  test.skip(!hydrated(info), "focus styling is the same without JavaScript, but this checks the live page");
  await signIn(page, "finance@globex.test", info);
  const tooltip = page.locator(".badge-failed .badge-tooltip");
  await expect(tooltip).toBeHidden();
  await page.locator(".badge-failed").focus();
  await expect(tooltip).toBeVisible();
  await expect(tooltip).toHaveText("The export could not be completed. Please try again.");
});

test("the admin sees the full list with every action", async ({ page }, info) => {
  await signIn(page, "admin@globex.test", info);
  await expect(rows(page)).toHaveCount(4);
  await expect(page.getByText("Dates are in Europe/London")).toBeVisible(); // the organisation's calendar
  await expect(page.getByRole("button", { name: "New Export" })).toBeVisible();
  // Delete on every row but the one being produced; Cancel on the two still running; Run again on the failed one.
  await expect(page.getByRole("button", { name: "Delete export" })).toHaveCount(3);
  await expect(page.locator('tr[data-status="processing"]').getByRole("button", { name: "Delete export" })).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Cancel export" })).toHaveCount(2);
  await expect(page.locator('tr[data-status="failed"]').getByRole("button", { name: "Run again" })).toHaveCount(1);
  await expect(page.getByRole("button", { name: "Run again" })).toHaveCount(1);
  if (hydrated(info)) {
    await expect(page.locator("time").first()).not.toContainText("UTC"); // local time once live
    await screenshot(page, "03-list-every-status");
    await page.setViewportSize({ width: 390, height: 844 });
    await screenshot(page, "05-list-phone-width");
  }
});

test("Download opens a fresh signed link in a new tab", async ({ page, context }, info) => {
  test.skip(!hydrated(info), "needs JavaScript (the form without it is the next test)");
  await signIn(page, "admin@globex.test", info);
  // Listen on the new tab as soon as it exists: the download can start before a later listener.
  const download = await downloadFrom(page, context, page.locator("table.data-table"));
  expect(download.suggestedFilename()).toMatch(/^globex-clinic-selected-records-\d{4}-\d{2}-\d{2}\.csv$/);
  const path = await download.path();
  const fs = await import("node:fs");
  expect(fs.readFileSync(path, "utf-8")).toContain("Zoë");
});

test("without JavaScript, Download is a form whose answer sends the new tab to a fresh signed link", async ({ page, context }, info) => {
  test.skip(hydrated(info), "the form is what works without JavaScript");
  await signIn(page, "admin@globex.test", info);
  // A tab that only downloads closes itself at once; watch the form's answer instead.
  const answered = context.waitForEvent("response", (response) => /\/settings\/exports\/[0-9a-f-]{36}\/download$/.test(response.url()));
  await page.locator('tr[data-status="completed"]').getByRole("button", { name: "Download" }).click();
  const answer = await answered;
  expect(answer.request().method()).toBe("POST");
  expect(answer.status()).toBe(303);
  const file = await page.request.get(answer.headers()["location"]);
  expect(file.status()).toBe(200);
  expect(file.headers()["content-disposition"]).toMatch(/filename="globex-clinic-selected-records-\d{4}-\d{2}-\d{2}\.csv"/);
  expect(await file.text()).toContain("Zoë");
});

test("an admin creates an export with the keyboard only, and the worker produces it", async ({ page, context }, info) => {
  test.skip(!hydrated(info), "the dialog needs JavaScript");
  await signIn(page, "admin@acme.test", info);
  await expect(page.getByRole("heading", { name: "No exports yet" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Refresh" })).toHaveCount(0);
  await screenshot(page, "02-empty");

  const opener = page.getByRole("button", { name: "New Export" });
  await opener.focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "New export" });
  await expect(dialog).toBeVisible();
  await screenshot(page, "04-dialog-open");

  // Focus is inside the dialog; choose "Selected records" (the default), then the format.
  await dialog.getByLabel("Selected records").focus();
  await page.keyboard.press("Tab"); // the format select
  await expect(dialog.getByLabel("Format")).toBeFocused();
  await dialog.getByLabel("Format").selectOption("json");
  await page.keyboard.press("Tab"); // the first entity type
  await expect(dialog.getByLabel("Clients")).toBeFocused();
  await page.keyboard.press("Space");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Space"); // Appointments
  // All time and every column, as they are; the purpose and recipient, still by keyboard.
  await dialog.getByLabel("Purpose").focus();
  await page.keyboard.press("t"); // Treatment
  await expect(dialog.getByLabel("Purpose")).toHaveValue("treatment");
  await page.keyboard.press("Tab");
  await expect(dialog.getByLabel("Recipient")).toBeFocused();
  await page.keyboard.type("internal: care team");
  await page.keyboard.press("Enter"); // submit
  // The list again, as the server now renders it: the new request highlighted, and said so.
  await expect(page).toHaveURL(/\?highlight=[0-9a-f-]{36}&requested=1$/);
  await expect(page.getByRole("status")).toHaveText("Export requested. It is highlighted below.");
  await expect(page.locator("tr.highlighted")).toHaveAttribute("aria-current", "true");

  const first = rows(page).first();
  await expect(first).toContainText("Selected records");
  await expect(first).toContainText("JSON");
  await expect(first).toContainText("Clients, Appointments");

  // The server's worker produces it (often before the list has even reloaded); Refresh shows it
  // completed, and Download gets the file.
  await refreshUntilCompleted(page);
  await expect(rows(page).first()).toContainText("Selected records");
  await screenshot(page, "06-completed");
  const download = await downloadFrom(page, context, rows(page).first());
  expect(download.suggestedFilename()).toMatch(
    /^acme-behavioral-health-selected-records-\d{4}-\d{2}-\d{2}\.json$/,
  );
  const fs = await import("node:fs");
  const file = JSON.parse(fs.readFileSync(await download.path(), "utf-8"));
  expect(Object.keys(file)).toEqual(["clients", "appointments", "manifest"]);
  expect(file.manifest.purpose).toBe("Treatment");
  expect(file.manifest.recipient).toBe("internal: care team");
  expect(file.manifest.row_counts.clients).toBe(file.clients.length);
  expect(file.clients.length).toBeGreaterThan(0);
  expect(file.appointments.length).toBeGreaterThan(file.clients.length);
  expect(Object.keys(file.clients[0]).slice(0, 4)).toEqual(["id", "medical_record_number", "first_name", "last_name"]);
  // Only Acme's clients: every appointment's client is in the file.
  const clientIds = new Set(file.clients.map((client) => client.id));
  expect(file.appointments.every((appointment) => clientIds.has(appointment.client_id))).toBe(true);
});

test("the dialog narrows formats by type, keeps errors inside, and closes on Esc", async ({ page }, info) => {
  test.skip(!hydrated(info), "the dialog needs JavaScript");
  await signIn(page, "finance@acme.test", info);
  const opener = page.getByRole("button", { name: "New Export" });
  await opener.click();
  const dialog = page.getByRole("dialog", { name: "New export" });

  await dialog.getByLabel("Audit trail").check();
  await expect(dialog.getByLabel("Format").locator("option")).toHaveText(["CSV", "JSON"]);
  await expect(dialog.getByText("Covers: Audit logs")).toBeVisible();
  await dialog.getByLabel("Full organisation export").check();
  await expect(dialog.getByLabel("Format").locator("option")).toHaveText(["JSON", "XLSX", "CSV"]);

  await dialog.getByLabel("Selected records").check();
  await expect(dialog.getByRole("group", { name: "Entity types" })).toBeVisible();
  await dialog.getByRole("button", { name: "Request export" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("Choose at least one entity type.");
  await expect(dialog).toBeVisible();

  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(opener).toBeFocused();
});

test("a request over the hourly limit is refused inside the dialog, saying why", async ({ page }, info) => {
  test.skip(!hydrated(info), "the dialog needs JavaScript");
  // The fixtures used up finance@acme.test's allowance.
  await signIn(page, "finance@acme.test", info);
  const { before, dialog } = await requestAuditTrail(page);
  await expect(dialog.getByRole("alert")).toHaveText(
    "You have requested 30 exports in the last hour, the most allowed. Try again later.",
  );
  await expect(dialog).toBeVisible();
  await page.keyboard.press("Escape");
  await expect(rows(page)).toHaveCount(before);
});

test("deleting asks first in the app's own dialog, and removes only that row", async ({ page }, info) => {
  test.skip(!hydrated(info), "needs JavaScript");
  await signIn(page, "admin@acme.test", info);
  const { before, dialog } = await requestAuditTrail(page);
  await expect(dialog).toBeHidden();
  await expect(rows(page)).toHaveCount(before + 1);
  const target = rows(page).first();
  await expect(target).toContainText("Audit trail");
  // A request being produced cannot be deleted; wait until the worker is done with it.
  await refreshUntilCompleted(page);

  let deleteCalls = 0;
  page.on("request", (request) => {
    if (request.url().includes("/api/delete_export_request")) deleteCalls += 1;
  });
  const confirm = page.getByRole("alertdialog", { name: "Delete this export?" });
  const opener = target.getByRole("button", { name: "Delete export" });
  await opener.click();
  await expect(confirm).toBeVisible();
  await expect(confirm).toContainText("records are not touched");
  // The safe choice has the focus; Esc keeps the export and gives the focus back.
  await expect(confirm.getByRole("button", { name: "Keep it" })).toBeFocused();
  await screenshot(page, "09-confirm-delete");
  await page.keyboard.press("Escape");
  await expect(confirm).toBeHidden();
  await expect(opener).toBeFocused();
  await expect(rows(page)).toHaveCount(before + 1);

  await opener.click();
  await confirm.getByRole("button", { name: "Delete export" }).click();
  if (before === 0) {
    await expect(page.getByRole("heading", { name: "No exports yet" })).toBeVisible();
  } else {
    await expect(rows(page)).toHaveCount(before);
    await expect(rows(page).first()).not.toContainText("Audit trail");
  }
  // Keeping sent nothing; confirming sent exactly one request.
  expect(deleteCalls).toBe(1);
});

test("cancelling confirms in the dialog, and Run again queues the same export, highlighted", async ({ page }, info) => {
  test.skip(!hydrated(info), "the dialog needs JavaScript");
  await signIn(page, "admin@initech.test", info);
  const row = page.locator('tr[data-status="pending"]').filter({ has: page.locator('td[data-label="Entity types"]', { hasText: /^Staff$/ }) });
  await expect(row).toHaveCount(1);
  await row.getByRole("button", { name: "Cancel export" }).click();
  const confirm = page.getByRole("alertdialog", { name: "Cancel this export?" });
  await expect(confirm.getByRole("button", { name: "Keep it running" })).toBeFocused();
  await confirm.getByRole("button", { name: "Cancel export" }).click();
  const cancelled = page.locator('tr[data-status="cancelled"]').filter({ has: page.locator('td[data-label="Entity types"]', { hasText: /^Staff$/ }) });
  await expect(cancelled.locator(".badge-cancelled")).toHaveText("Cancelled");
  await expect(cancelled.getByRole("button", { name: "Cancel export" })).toHaveCount(0);

  await cancelled.getByRole("button", { name: "Run again" }).click();
  await expect(page).toHaveURL(/\?highlight=[0-9a-f-]{36}$/);
  await expect(page.getByRole("status")).toHaveText("Queued again. The new export is highlighted below.");
  const highlighted = page.locator("tr.highlighted");
  await expect(highlighted).toHaveCount(1);
  await expect(highlighted).toContainText("Staff");
  await expect(highlighted).toHaveAttribute("aria-current", "true");
  await screenshot(page, "10-run-again-highlighted");
});

test("without JavaScript, Cancel and Delete confirm on pages of their own, and Run again is a form", async ({ page }, info) => {
  test.skip(hydrated(info), "the pages are what works without JavaScript");
  await signIn(page, "admin@initech.test", info);
  const claimsRow = (status: string) =>
    page.locator(`tr[data-status="${status}"]`).filter({ has: page.locator('td[data-label="Entity types"]', { hasText: /^Claims$/ }) });
  await claimsRow("pending").getByRole("button", { name: "Cancel export" }).click();
  await expect(page).toHaveURL(/\/settings\/exports\/[0-9a-f-]{36}\/cancel\??$/);
  await expect(page.getByRole("heading", { name: "Cancel this export?" })).toBeVisible();
  await page.getByRole("button", { name: "Cancel export" }).click();
  await expect(page).toHaveURL(/\/settings\/exports$/);
  await expect(claimsRow("cancelled").locator(".badge-cancelled")).toHaveText("Cancelled");

  await claimsRow("cancelled").getByRole("button", { name: "Run again" }).click();
  await expect(page).toHaveURL(/\?highlight=[0-9a-f-]{36}$/);
  await expect(page.getByRole("status")).toContainText("highlighted below");
  await expect(page.locator("tr.highlighted")).toContainText("Claims");

  await claimsRow("cancelled").getByRole("button", { name: "Delete export" }).click();
  await expect(page.getByRole("heading", { name: "Delete this export?" })).toBeVisible();
  await page.getByRole("link", { name: "Keep it" }).click();
  await expect(claimsRow("cancelled")).toHaveCount(1);
  await claimsRow("cancelled").getByRole("button", { name: "Delete export" }).click();
  await page.getByRole("button", { name: "Delete export" }).click();
  await expect(page).toHaveURL(/\/settings\/exports$/);
  await expect(claimsRow("cancelled")).toHaveCount(0);
});

test("an admin chooses how long files are kept", async ({ page }, info) => {
  await signIn(page, "admin@initech.test", info);
  const hours = page.getByLabel("Keep files for");
  await hours.fill("48");
  await page.getByRole("button", { name: "Save" }).click();
  await expect(page.getByText("Completed files are kept for 2 days, then deleted.")).toBeVisible();
  await expect(page.getByLabel("Keep files for")).toHaveValue("48");
});

test("an admin scopes an export to last month's claims, fewer columns, and a stated purpose", async ({ page, context }, info) => {
  test.skip(!hydrated(info), "the dialog needs JavaScript");
  await signIn(page, "admin@acme.test", info);
  await expect(page.getByText("Dates are in America/New_York")).toBeVisible();
  await page.getByRole("button", { name: "New Export" }).click();
  const dialog = page.getByRole("dialog", { name: "New export" });
  await dialog.getByLabel("Claims").check();
  await expect(dialog.getByText("Days in America/New_York, both included.")).toBeVisible();

  // Last calendar month of New York's calendar fills From and To.
  const [year, month] = todayIn("America/New_York").split("-").map(Number);
  const first = new Date(Date.UTC(year, month - 2, 1));
  const last = new Date(Date.UTC(year, month - 1, 0));
  const iso = (d: Date) => d.toISOString().slice(0, 10);
  await dialog.getByLabel("Period").selectOption("last_calendar_month");
  await expect(dialog.getByLabel("From")).toHaveValue(iso(first));
  await expect(dialog.getByLabel("To")).toHaveValue(iso(last));
  // The server counts what the choices would export, a moment after they settle.
  await expect(dialog.locator(".estimate")).toHaveText(/^About [\d,]+ rows \(Claims [\d,]+\), about [\d.]+ (bytes|KB|MB)\.$/);

  // Without a purpose it is refused, inside the dialog, naming what is missing.
  await dialog.getByRole("button", { name: "Request export" }).click();
  await expect(dialog.getByRole("alert")).toContainText("Choose the purpose of this export");

  // A typed date replaces the preset; a reversed range is refused under To.
  await dialog.getByLabel("To").fill(iso(new Date(first.getTime() - 86_400_000)));
  await expect(dialog.getByLabel("Period")).toHaveValue("custom");
  await dialog.getByLabel("Purpose").selectOption("payment");
  await dialog.getByLabel("Recipient").fill("internal: finance team");
  await dialog.getByRole("button", { name: "Request export" }).click();
  await expect(dialog.getByRole("alert")).toHaveText("The last day comes before the first.");
  await dialog.getByLabel("Period").selectOption("last_calendar_month");

  // Fewer columns: the claim number stays behind.
  const claims = dialog.locator('details[data-entity="claims"]');
  await claims.locator("summary").click();
  await expect(claims.locator("summary")).toHaveText("Claims: 11 of 11 columns");
  await claims.getByLabel("claim_number").uncheck();
  await expect(claims.locator("summary")).toHaveText("Claims: 10 of 11 columns");
  await expect(claims.getByLabel("id", { exact: true })).toBeDisabled();
  await screenshot(page, "07-dialog-scoped");
  await dialog.getByRole("button", { name: "Request export" }).click();
  await expect(dialog).toBeHidden();

  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const label = (d: Date) => `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
  await expect(rows(page).first()).toContainText("Claims");
  await expect(rows(page).first().locator(".date-range")).toHaveText(`${label(first)} – ${label(last)}`);
  await refreshUntilCompleted(page);
  const download = await downloadFrom(page, context, rows(page).first());
  expect(download.suggestedFilename()).toBe(
    `acme-behavioral-health-selected-records-${iso(first)}-to-${iso(last)}-on-${todayIn("America/New_York")}.csv`,
  );
  const fs = await import("node:fs");
  const [header, ...lines] = fs.readFileSync(await download.path(), "utf-8").trim().split(/\r?\n/);
  expect(header.split(",")).not.toContain("claim_number");
  expect(header.split(",")[0]).toBe("id");
  // submitted_on is a claim's only date: every row's falls in the month.
  for (const line of lines) {
    const days = line.match(/\d{4}-\d{2}-\d{2}/g) ?? [];
    expect(days).toHaveLength(1);
    expect(days[0] >= iso(first) && days[0] <= iso(last)).toBe(true);
  }
});

test("without JavaScript the server-rendered table stands on its own", async ({ page }, info) => {
  test.skip(hydrated(info), "only meaningful without JavaScript");
  await signIn(page, "finance@globex.test", info);
  await expect(rows(page)).toHaveCount(4);
  await expect(page.locator(".badge-completed")).toHaveText("Completed");
  await expect(page.locator("time").first()).toContainText("UTC");
});
