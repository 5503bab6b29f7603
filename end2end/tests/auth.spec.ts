// Signing in and out as each demo role, and what the permission gate shows each of them.
import { expect, test } from "@playwright/test";
import { hydrated, signIn } from "./helpers";

test("a signed-out visitor is asked to sign in", async ({ page }) => {
  await page.goto("/settings/exports");
  await expect(page.getByRole("heading", { name: "Please sign in" })).toBeVisible();
  await page.getByRole("link", { name: "Sign in" }).first().click();
  await expect(page).toHaveURL(/\/login$/);
});

for (const email of ["admin@acme.test", "finance@acme.test", "staff@globex.test"]) {
  test(`${email} signs in and sees the Data Exports page`, async ({ page }, info) => {
    await signIn(page, email, info);
    await expect(page.getByRole("heading", { level: 1, name: "Data Exports" })).toBeVisible();
    await expect(page.locator(".user-org")).toHaveText(email.endsWith("acme.test") ? "Acme Behavioral Health" : "Globex Clinic");
  });
}

test("a member with no role sees the lock", async ({ page }, info) => {
  await signIn(page, "norole@acme.test", info);
  await expect(page.getByRole("heading", { name: "Access denied" })).toBeVisible();
  await expect(page.locator(".gate-denied svg")).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Data Exports" })).toHaveCount(0);
});

test("a wrong password is refused with a clear message", async ({ page }, info) => {
  await page.goto("/login");
  if (hydrated(info)) {
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByLabel("Email").fill("admin@globex.test");
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("alert")).toHaveText("The email or password is incorrect.");
  await expect(page).toHaveURL(/\/login/);
});

test("signing out ends the session", async ({ page, context }, info) => {
  await signIn(page, "admin@acme.test", info);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  const cookies = await context.cookies();
  expect(cookies.find((cookie) => cookie.name === "exports_session")).toBeUndefined();
  await page.goto("/settings/exports");
  await expect(page.getByRole("heading", { name: "Please sign in" })).toBeVisible();
});
