// The app shell: the Data Exports page renders on the server and comes alive when hydrated.
import { expect, test } from "@playwright/test";
import { hydrated, signIn } from "./helpers";

test("the root redirects to the Data Exports page", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/settings\/exports$/);
  await expect(page).toHaveTitle("Data Exports · Exports");
});

test("the server-rendered page stands on its own", async ({ page }, info) => {
  await signIn(page, "admin@acme.test", info);
  const response = await page.goto("/settings/exports");
  expect(response?.status()).toBe(200);
  await expect(page).toHaveTitle("Data Exports · Exports");
  await expect(page.getByRole("heading", { level: 1, name: "Data Exports" })).toBeVisible();
  // The stylesheet was served and applied: the top bar has its background colour.
  const background = await page.locator(".topbar").evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(background).toBe("rgb(255, 255, 255)");
});

test("the page hydrates: its buttons work only once the WASM bundle runs", async ({ page }, info) => {
  test.skip(!hydrated(info), "needs JavaScript");
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });

  await signIn(page, "staff@acme.test", info);
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  const help = page.locator("#exports-help");
  const toggle = page.getByRole("button", { name: "How exports work" });
  await expect(help).toBeHidden();
  await toggle.click();
  await expect(help).toBeVisible();
  await expect(toggle).toHaveAttribute("aria-expanded", "true");
  expect(errors).toEqual([]);
});

test("without JavaScript nothing hydrates and the button is inert", async ({ page }, info) => {
  test.skip(hydrated(info), "only meaningful without JavaScript");
  await signIn(page, "staff@acme.test", info);
  await page.getByRole("button", { name: "How exports work" }).click();
  await expect(page.locator("#exports-help")).toBeHidden();
  await expect(page.locator("html")).not.toHaveAttribute("data-hydrated", "true");
});

test("an unknown page answers 404 with a way back", async ({ page }) => {
  const response = await page.goto("/no/such/page");
  expect(response?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  await page.getByRole("link", { name: "Go to Data Exports" }).click();
  await expect(page).toHaveURL(/\/settings\/exports$/);
});
