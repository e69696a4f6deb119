"""Catalogues are complete, every template key exists, and the palette keeps its contrast."""

from __future__ import annotations

import re

from marelle_gateway.i18n import LOCALES_DIR, _accept_language, available_languages, catalogue
from marelle_gateway.rendering import STATIC_DIR, TEMPLATES_DIR


def test_french_and_english_catalogues_have_the_same_keys():
    assert available_languages() == ("en", "fr")
    assert set(catalogue("fr")) == set(catalogue("en"))
    assert all(value.strip() for lang in ("fr", "en") for value in catalogue(lang).values())


def test_every_literal_key_used_in_templates_and_handlers_exists():
    used = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""",
                               template.read_text()))
    assert used, "templates use the catalogue"
    for module in (TEMPLATES_DIR.parent / "pages").rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_.]+)["']\s*[,)]""", module.read_text()))
    assert used <= set(catalogue("fr")), used - set(catalogue("fr"))


def test_keys_built_at_render_time_exist():
    from marelle_gateway.clients import HISTORY_SERVICES
    from marelle_gateway.main import ERROR_PAGES
    from marelle_gateway.pages.account import ACCOUNT_MENU, BILLING_PAGES
    from marelle_gateway.pages import billing
    from marelle_gateway.pages.auth import HOME_NOTICES, LINKS
    from marelle_gateway.pages.contact import PHONE_KINDS, RANKS, SCHEMES
    from marelle_gateway.pages.family import NOTICES
    from marelle_gateway.enrolment_models import MARKS, STATUSES
    from marelle_gateway.pages.registrations import REGISTRATION_MENU, SECTIONS
    from marelle_gateway.pages.registrations.choice import LEVELS
    from marelle_gateway.pages.registrations.booking import DIRECTIONS, SHUTTLE_ACTIONS
    from marelle_gateway.pages.registrations.booking import KINDS as BOOKING_KINDS
    from marelle_gateway.pages.registrations.booking import STATES as BOOKING_STATES
    from marelle_gateway.pages.registrations.detail import BOOKING_SECTIONS
    from marelle_gateway.pages.registrations.detail import NOTICES as REGISTRATION_NOTICES
    from marelle_gateway.pages.registrations.new import WEEKDAYS
    from marelle_gateway.rendering import MENU

    keys = {key for _, key, _ in MENU}
    keys |= {f"{prefix}{s}" for s in ("en_attente", "acceptee", "refusee")
             for prefix in ("status.", "status.icon.")}
    keys |= {f"{prefix}{s}" for s in HISTORY_SERVICES
             for prefix in ("service.", "dashboard.unavailable.")}
    keys |= {f"error.{kind}.{part}" for kind in (*map(str, ERROR_PAGES), "csrf", "other")
             for part in ("title", "message")}
    keys |= {f"account.menu.{section}" for section, _ in ACCOUNT_MENU}
    keys |= {f"account.{section}.intro" for section in BILLING_PAGES}
    keys |= set(HOME_NOTICES.values()) | set(NOTICES.values())
    keys |= {f"link.{purpose}.{part}" for purpose in LINKS
             for part in ("title", "lead", "submit", "invalid_next")}
    keys |= {f"contact.field.{kind}_{rank}" for kind in PHONE_KINDS for rank in (*RANKS, "any")}
    keys |= {f"contact.scheme.{scheme}" for scheme in SCHEMES}
    keys |= {f"registrations.{part}.{section}" for section in SECTIONS
             for part in ("state", "empty")}
    keys |= {f"registration.menu.{section}" for section, _ in REGISTRATION_MENU}
    keys |= {f"registration.{section}.after_validation" for section in BOOKING_SECTIONS}
    keys |= {f"booking.kind.{kind}" for kind in BOOKING_KINDS}
    keys |= {f"booking.state.{state}" for state in BOOKING_STATES}
    keys |= {f"booking.state.short.{state}" for state in (*BOOKING_STATES, "locked")
             if state != "libre"}
    keys |= {f"booking.direction.{d}" for d in DIRECTIONS}
    keys |= {f"booking.result.icon.{kind}" for kind in ("reservee", "liste_attente", "annulee",
                                                         "affectee", "refusee")}
    keys |= {f"booking.results.summary.{kind}" for kind in ("changes", "assigned")}
    keys |= {f"booking.shuttle.action.{action}" for action in SHUTTLE_ACTIONS}
    keys |= {f"booking.{section}.title" for section in ("groupes", "semaine_type", "abonnement")}
    keys |= {f"weekday.letter.{day}" for day in WEEKDAYS}
    keys |= {f"dashboard.status.reservation.{s}" for s in ("en_attente", "acceptee", "refusee")}
    keys |= {f"registration.status.{prefix}{status}" for status in (*STATUSES, "other")
             for prefix in ("", "icon.")}
    keys |= {f"{prefix}.{mark}" for mark in MARKS.values()
             for prefix in ("registration.mark", "registrations.legend")}
    keys |= {f"registration.level.{level}" for level in LEVELS}
    keys |= {f"weekday.{day}" for day in WEEKDAYS}
    keys |= {f"registration.result.{outcome}" for outcome in ("all_ok", "some_failed",
                                                                  "all_failed")}
    keys |= set(REGISTRATION_NOTICES.values())
    keys |= {f"page.{page}.action.{i}" for page, count in (("family", 5), ("account", 4))
             for i in range(1, count + 1)}
    keys |= {f"family.add.title.{kind}" for kind in ("enfant", "responsable")}
    keys |= {f"sex.{sex}" for sex in ("F", "M", "none")}
    keys |= {f"lang.switch.{lang}" for lang in available_languages()}
    keys |= {f"billing.{part}{kind}" for kind in billing.INVOICE_KINDS
             for part in ("invoice.title_", "invoice.pdf_", "allocations.title_",
                          "allocations.none_")}
    keys |= {f"billing.line_kind.{kind}" for kind in billing.LINE_KINDS}
    keys |= {f"billing.method.{method}" for method in billing.METHODS}
    keys |= {f"billing.payment.title.{page}" for page in billing.PAYMENT_PAGES}
    keys |= {f"billing.payment.failed.{status}" for status in billing.FAILED}
    assert keys <= set(catalogue("fr")), keys - set(catalogue("fr"))


def test_no_french_text_hard_coded_in_templates():
    for template in TEMPLATES_DIR.glob("*.html"):
        text = re.sub(r"{[{%#].*?[}%#]}", "", template.read_text(), flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        words = [w for w in re.findall(r"[A-Za-zÀ-ÿ]{3,}", text)]
        assert not words, f"{template.name}: {words}"


def test_accept_language_ordering():
    assert _accept_language("en;q=0.5, fr-FR, de;q=0") == ["fr", "en"]
    assert LOCALES_DIR.is_dir()


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_palette_text_contrast_is_at_least_4_5():
    css = (STATIC_DIR / "portal.css").read_text()
    var = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = [("ink", "paper"), ("ink", "page"), ("ink-soft", "paper"), ("ink-soft", "page"),
             ("link", "paper"), ("link", "page"), ("brand-dark", "page"), ("brand-dark", "brand-tint"),
             ("ok-ink", "ok-bg"), ("wait-ink", "wait-bg"), ("ko-ink", "ko-bg"),
             ("ink", "info-bg"), ("ink", "warn-bg"), ("ink", "error-bg"), ("ink", "focus")]
    for fg, bg in pairs:
        assert contrast(var[fg], var[bg]) >= 4.5, (fg, bg, contrast(var[fg], var[bg]))
    for bg in ("brand", "brand-dark"):
        assert contrast("#ffffff", var[bg]) >= 4.5, bg
    assert contrast("#ffffff", var["link"]) >= 4.5
    # Form borders are UI components: 3:1 is the bar.
    assert contrast(var["border"], var["paper"]) >= 3
