// Shared steps for the browser tests.
import { expect, Page, TestInfo } from "@playwright/test";

export const DEMO_PASSWORD = "demo-password";

export const hydrated = (info: TestInfo) => info.project.name === "hydrated";

/** Signs in through the login form, as a person would, and lands on the exports page. */
export async function signIn(page: Page, email: string, info: TestInfo) {
  await page.goto("/login");
  if (hydrated(info)) {
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
  }
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(DEMO_PASSWORD);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page).toHaveURL(/\/settings\/exports$/);
}

/** Saves a full-page screenshot under artifacts/screenshots/ (kept by the test run). */
export async function screenshot(page: Page, name: string) {
  const dir = process.env.ARTIFACTS_DIR ? `${process.env.ARTIFACTS_DIR}/screenshots` : "screenshots";
  await page.screenshot({ path: `${dir}/${name}.png`, fullPage: true });
}
