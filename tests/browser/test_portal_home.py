"""The portal's home page in a real browser: the guide's login form, menu and keyboard use."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

pytestmark = pytest.mark.browser

MENU = ["Accueil", "Mon tableau de bord", "Ma famille", "Mes coordonnées", "Mes inscriptions",
        "Mon compte"]


async def test_home_page_has_the_guide_login_form(page, gateway_url, artifacts):
    await page.goto(f"{gateway_url}/")

    await expect(page).to_have_title(re.compile(r"^Connexion – Portail famille"))
    await expect(page.locator("html")).to_have_attribute("lang", "fr")
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        "Connexion au portail de la famille")

    menu = page.get_by_role("navigation", name="Menu principal")
    links = menu.get_by_role("link")
    await expect(links).to_have_text(MENU)
    await expect(menu.get_by_role("link", name="Accueil", exact=True)).to_have_attribute(
        "aria-current", "page")

    identifier = page.get_by_label("Votre identifiant")
    password = page.get_by_label("Votre mot de passe")
    await identifier.fill("claire.martin@example.fr")
    await password.fill("un mot de passe")
    await expect(identifier).to_have_value("claire.martin@example.fr")
    await expect(page.get_by_role("link", name="Mot de passe oublié ?")).to_be_visible()

    await page.screenshot(path=artifacts / "portal-home.png", full_page=True)


async def test_keyboard_reaches_the_login_button(page, gateway_url):
    await page.goto(f"{gateway_url}/")
    await page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Aller au contenu")
    await expect(skip).to_be_focused()
    await expect(skip).to_be_visible()  # shown when focused

    button = page.get_by_role("button", name="Connexion", exact=True)
    for _ in range(30):
        if await button.evaluate("el => el === document.activeElement"):
            break
        await page.keyboard.press("Tab")
    await expect(button).to_be_focused()
    # The focus is visible: an outline is drawn around the focused button.
    outline = await button.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline != "none"


async def test_home_page_fits_a_320_pixel_screen(page, gateway_url, artifacts):
    await page.set_viewport_size({"width": 320, "height": 640})
    await page.goto(f"{gateway_url}/")
    scroll_width = await page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 320, f"horizontal scrolling at 320 px ({scroll_width} px wide)"
    await expect(page.get_by_role("button", name="Connexion", exact=True)).to_be_visible()
    await page.screenshot(path=artifacts / "portal-home-320.png", full_page=True)
