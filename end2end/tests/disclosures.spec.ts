// The accounting of disclosures: an admin finds a client by record number or name, sees every
// export that carried their records, and downloads the accounting; others do not see the way in.
// The fixtures' completed Globex export carried the records of Globex's first two clients, in the
// order a search lists them (by name).
import { expect, test } from "@playwright/test";
import { hydrated, screenshot, signIn } from "./helpers";

test("an admin finds a client and reads every export that carried their records", async ({ page }, info) => {
  await signIn(page, "admin@globex.test", info);
  await page.getByRole("link", { name: "Accounting of disclosures" }).click();
  await expect(page).toHaveURL(/\/settings\/exports\/disclosures$/);
  await expect(page.getByRole("heading", { level: 1, name: "Accounting of disclosures" })).toBeVisible();

  // A search that matches nobody says so; the first client (by record number) is found by it.
  const search = page.getByRole("searchbox", { name: "Record number or name" });
  await search.fill("no such client");
  await page.getByRole("button", { name: "Find client" }).click();
  await expect(page.getByText("No client has that record number or name.")).toBeVisible();
  await search.fill("mrn-"); // every record number starts so: the first clients by name
  await page.getByRole("button", { name: "Find client" }).click();
  const first = page.locator(".client-matches li").first();
  const recordNumber = (await first.locator(".record-number").textContent())!.trim();
  await search.fill(recordNumber);
  await page.getByRole("button", { name: "Find client" }).click();
  await expect(page.locator(".client-matches li")).toHaveCount(1);
  await page.locator(".client-matches li a").click();
  await expect(page).toHaveURL(/\?client=[0-9a-f-]{36}$/);

  await expect(page.getByRole("status")).toHaveText("1 export carried this client's records in this period.");
  const row = page.locator("table.disclosures-table tbody tr");
  await expect(row).toHaveCount(1);
  await expect(row.locator('td[data-label="Recipient"]')).toHaveText("internal: finance team");
  await expect(row.locator('td[data-label="Purpose"]')).toHaveText("Payment");
  await expect(row.locator('td[data-label="What was disclosed"]')).toHaveText(
    "Selected records: Clients; 1 Oct 2026 – 31 Oct 2026 (Europe/London); Health information (PHI), General",
  );
  await expect(row.locator('td[data-label="Requested by"]')).toHaveText("Globex Admin <admin@globex.test>");
  if (hydrated(info)) await screenshot(page, "11-disclosures");

  // The accounting as a file: a form whose answer sends the new tab to a fresh signed link.
  const answered = page.context().waitForEvent("response", (response) => response.url().endsWith("/api/disclosure_accounting"));
  await page.getByRole("button", { name: "Download CSV" }).click();
  const answer = await answered;
  expect(answer.status()).toBe(303);
  const file = await page.request.get(answer.headers()["location"]);
  expect(file.status()).toBe(200);
  expect(file.headers()["content-disposition"]).toMatch(/filename="accounting-of-disclosures-\d{4}-\d{2}-\d{2}\.csv"/);
  const csv = await file.text();
  expect(csv.split(/\r?\n/)[0]).toBe("date_completed,recipient,purpose,description,export_type,record_types,dates,information,requested_by");
  expect(csv).toContain("internal: finance team");

  // A period before the export shows none.
  await page.getByLabel("From").fill("2020-01-01");
  await page.getByLabel("To").fill("2020-12-31");
  await page.getByRole("button", { name: "Show" }).click();
  await expect(page.getByRole("status")).toHaveText("No export carried this client's records in this period.");
});

test("without the permission there is no way in, and the page says access denied", async ({ page }, info) => {
  await signIn(page, "finance@globex.test", info);
  await expect(page.getByRole("link", { name: "Accounting of disclosures" })).toHaveCount(0);
  await page.goto("/settings/exports/disclosures");
  await expect(page.getByRole("heading", { name: "Access denied" })).toBeVisible();
  await expect(page.getByRole("searchbox")).toHaveCount(0);
});
