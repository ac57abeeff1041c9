"""End users read the portal and their messages in German, French or Spanish; English otherwise."""

from __future__ import annotations

import gettext
import html
import importlib.machinery
import importlib.util
import io
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from sspr.directory.models import User
from sspr.messaging.models import OutboxMessage
from sspr.policy.sspr_policy import update_policy
from tests.conftest import PASSWORD, csrf_token
from tests.reset_helpers import last_code_to, register_email, register_sms, reset_for_all

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "src" / "sspr" / "locale"
LANGUAGES = ("de", "fr", "es")
NEW = "Tidal-Grove-88"
MOBILE = "+14255550123"

# A few sentences of each page, as its readers see them.
SEEN: dict[str, dict[str, list[str]]] = {
    "de": {
        "sign-in": ["Anmelden", "Benutzername", "Passwort vergessen"],
        "start": ["Zurück zu Ihrem Konto", "Passwort zurücksetzen", "Weiter"],
        "verify": ["Überprüfungsschritt 1 von 1", "Code per E-Mail an a***@contoso.com senden"],
        "gate": ["Wir haben einen Code an a***@contoso.com gesendet.", "Überprüfen"],
        "wrong": ["Das stimmt nicht überein."],
        "new-password": ["Neues Passwort wählen", "Zwischen 8 und 256 Zeichen."],
        "mismatch": ["Die beiden neuen Passwörter stimmen nicht überein."],
        "rejected": ["Ihr neues Passwort erfüllt die Regeln nicht.", "mindestens 8 Zeichen"],
        "done": [
            "Ihr Passwort wurde zurückgesetzt",
            "Melden Sie sich mit Ihrem neuen Passwort an.",
        ],
        "account": ["Mein Konto", "Passwort zuletzt geändert", "Sicherheitsinformationen"],
        "register": ["Sicherheitsinformationen", "Methode hinzufügen", "Code senden"],
        "change": ["Passwort ändern", "Aktuelles Passwort", "Neues Passwort bestätigen"],
        "changed": ["Ihr Passwort wurde geändert", "Zurück zu meinem Konto"],
        "error": ["Es tut uns leid", "Es gibt keine Organisation namens „nowhere“."],
    },
    "fr": {
        "sign-in": ["Se connecter", "Nom d'utilisateur", "Mot de passe oublié"],
        "start": ["Récupérer l'accès à votre compte", "Réinitialiser votre mot de passe"],
        "verify": [
            "Étape de vérification 1 sur 1",
            "Envoyer un code par e-mail à a***@contoso.com",
        ],
        "gate": ["Nous avons envoyé un code à a***@contoso.com.", "Vérifier"],
        "wrong": ["Cela ne correspond pas."],
        "new-password": ["Choisissez un nouveau mot de passe", "Entre 8 et 256 caractères."],
        "mismatch": ["Les deux nouveaux mots de passe ne correspondent pas."],
        "rejected": ["Votre nouveau mot de passe ne respecte pas les règles.", "au moins 8"],
        "done": ["Votre mot de passe a été réinitialisé", "Connectez-vous avec votre nouveau"],
        "account": ["Mon compte", "Dernière modification du mot de passe"],
        "register": ["Informations de sécurité", "Ajouter une méthode", "Envoyer un code"],
        "change": ["Modifier le mot de passe", "Mot de passe actuel"],
        "changed": ["Votre mot de passe a été modifié", "Retour à mon compte"],
        "error": ["Désolé", "Il n'existe aucune organisation nommée"],
    },
    "es": {
        "sign-in": ["Iniciar sesión", "Nombre de usuario", "He olvidado mi contraseña"],
        "start": ["Recupere el acceso a su cuenta", "Restablecer la contraseña", "Siguiente"],
        "verify": [
            "Paso de verificación 1 de 1",
            "Enviar un código por correo electrónico a a***@contoso.com",
        ],
        "gate": ["Hemos enviado un código a a***@contoso.com.", "Verificar"],
        "wrong": ["No coincide."],
        "new-password": ["Elija una nueva contraseña", "Entre 8 y 256 caracteres."],
        "mismatch": ["Las dos contraseñas nuevas no coinciden."],
        "rejected": ["Su nueva contraseña no cumple las reglas.", "al menos 8 caracteres"],
        "done": ["Se ha restablecido su contraseña", "Inicie sesión con su nueva contraseña."],
        "account": ["Mi cuenta", "Última modificación de la contraseña"],
        "register": ["Información de seguridad", "Agregar un método", "Enviar un código"],
        "change": ["Cambiar la contraseña", "Contraseña actual"],
        "changed": ["Se ha cambiado su contraseña", "Volver a mi cuenta"],
        "error": ["Lo sentimos", "No existe ninguna organización llamada «nowhere»."],
    },
}


@pytest.fixture
def open_tenant(tenant: Any) -> Any:
    return reset_for_all(tenant, "email,sms,totp")


@pytest.fixture
def registered_alice(open_tenant: Any, alice: User) -> User:
    register_email(alice)
    mail.outbox.clear()
    return alice


def browser(language: str | None = None, **kwargs: Any) -> Client:
    return Client(headers={"Accept-Language": language} if language else {}, **kwargs)


def text(response: Any) -> str:
    """The page as a reader sees its words: entities decoded, runs of white space as one."""
    return " ".join(html.unescape(response.content.decode()).split())


def assert_page(response: Any, language: str, page: str, status: int = 200) -> None:
    assert response.status_code == status, text(response)[:2000]
    shown = text(response)
    assert f'<html lang="{language}">' in shown
    for sentence in SEEN[language][page]:
        assert " ".join(sentence.split()) in shown, (page, sentence)


def signed_in(language: str, upn: str, **kwargs: Any) -> Client:
    client = browser(language, **kwargs)
    assert client.post("/t/contoso/sign-in", {"username": upn, "password": PASSWORD}).status_code
    return client


def load_messages_script() -> ModuleType:
    """scripts/messages, the tool that extracts and compiles the catalogues (no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("messages_script", str(ROOT / "scripts/messages"))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def catalogue(language: str) -> Catalog:
    with (LOCALE / language / "LC_MESSAGES" / "django.po").open("rb") as source:
        return read_po(source, locale=language)


def entries(language: str) -> list[Message]:
    return [m for m in catalogue(language) if m.id]


class TestPagesInTheBrowsersLanguage:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_the_reset_pages_from_start_to_done(
        self, language: str, registered_alice: User
    ) -> None:
        """Every step of a reset speaks the browser's language, errors and rules included."""
        client = browser(language)
        assert_page(client.get("/t/contoso/reset"), language, "start")
        assert (
            client.post("/t/contoso/reset", {"username": registered_alice.upn}).status_code == 302
        )
        assert_page(client.get("/t/contoso/reset/verify"), language, "verify")
        client.post("/t/contoso/reset/verify", {"action": "challenge", "method": "email"})
        assert_page(client.get("/t/contoso/reset/verify"), language, "gate")
        wrong = client.post(
            "/t/contoso/reset/verify", {"action": "verify", "method": "email", "code": "12345678"}
        )
        assert_page(wrong, language, "wrong", status=400)
        client.post("/t/contoso/reset/verify", {"action": "challenge", "method": "email"})
        code = last_code_to(registered_alice.upn)
        client.post(
            "/t/contoso/reset/verify", {"action": "verify", "method": "email", "code": code}
        )
        assert_page(client.get("/t/contoso/reset/password"), language, "new-password")
        mismatch = client.post(
            "/t/contoso/reset/password", {"new_password": NEW, "confirm_password": "x"}
        )
        assert_page(mismatch, language, "mismatch", status=400)
        short = client.post(
            "/t/contoso/reset/password", {"new_password": "Ab1!", "confirm_password": "Ab1!"}
        )
        assert_page(short, language, "rejected", status=400)
        assert 'data-code="password_too_short"' in short.content.decode()
        done = client.post(
            "/t/contoso/reset/password", {"new_password": NEW, "confirm_password": NEW}
        )
        assert_page(done, language, "done")

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_sign_in_account_security_info_and_change(
        self, language: str, open_tenant: Any, alice: User
    ) -> None:
        assert_page(browser(language).get("/t/contoso/sign-in"), language, "sign-in")
        client = signed_in(language, alice.upn)
        assert client.get("/t/contoso/account").status_code in (200, 302)
        client.post("/t/contoso/register", {"action": "skip"})
        assert_page(client.get("/t/contoso/account"), language, "account")
        assert_page(client.get("/t/contoso/register"), language, "register")
        assert_page(client.get("/t/contoso/change"), language, "change")
        changed = client.post(
            "/t/contoso/change",
            {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW},
        )
        assert_page(changed, language, "changed")

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_error_pages(self, language: str, open_tenant: Any) -> None:
        assert_page(browser(language).get("/t/nowhere/sign-in"), language, "error", status=404)

    def test_security_questions_are_shown_in_the_readers_language(
        self, tenant: Any, alice: User
    ) -> None:
        """The stored question stays English (its identity); the page shows it translated."""
        update_policy(tenant, {"enabled_for": "all", "methods_enabled": "email,questions"}, "t")
        page = text(signed_in("fr", alice.upn).get("/t/contoso/register"))
        assert (
            '<option value="What was the name of your first pet?">'
            "Comment s'appelait votre premier animal de compagnie ?</option>"
        ) in page.replace("\u00a0", " ")

    def test_english_when_the_browser_asks_for_nothing_else(self, open_tenant: Any) -> None:
        for asked in (None, "it-IT, ja;q=0.8", "en-GB"):
            page = browser(asked).get("/t/contoso/reset")
            shown = text(page)
            assert '<html lang="en">' in shown and "Get back into your account" in shown
            assert page["Content-Language"] == "en"

    def test_the_browsers_regional_variant_finds_its_language(self, open_tenant: Any) -> None:
        page = browser("de-AT,de;q=0.9,en;q=0.5").get("/t/contoso/reset")
        assert '<html lang="de">' in text(page) and page["Content-Language"] == "de"
        assert "Accept-Language" in page["Vary"]


class TestLanguageSwitcher:
    @pytest.mark.parametrize(
        "path", ["/t/contoso/sign-in", "/t/contoso/reset", "/t/nowhere/sign-in"]
    )
    def test_every_end_user_page_offers_every_language(self, path: str, open_tenant: Any) -> None:
        page = browser("fr").get(path).content.decode()
        switcher = page[page.index('<form method="post" action="/language"') :]
        switcher = switcher[: switcher.index("</form>")]
        assert 'name="csrfmiddlewaretoken"' in switcher
        assert f'<input type="hidden" name="next" value="{path}">' in switcher
        for code, name in (("en", "English"), ("de", "Deutsch"), ("es", "Español")):
            assert (
                f'<button type="submit" name="language" value="{code}" lang="{code}" '
                f'class="link">{name}</button>'
            ) in switcher
        assert '<strong lang="fr" aria-current="true">Français</strong>' in switcher

    def test_signed_in_pages_offer_it_too(self, open_tenant: Any, alice: User) -> None:
        client = signed_in("es", alice.upn)
        for path in ("/t/contoso/register", "/t/contoso/change"):
            assert 'id="language-switcher"' in client.get(path).content.decode()

    def test_the_choice_changes_the_language_and_sticks(self, open_tenant: Any) -> None:
        """A German browser that chooses French gets French on every page from then on."""
        client = browser("de", enforce_csrf_checks=True)
        page = client.get("/t/contoso/reset")
        assert '<html lang="de">' in text(page)
        chosen = client.post(
            "/language",
            {
                "csrfmiddlewaretoken": csrf_token(page.content.decode()),
                "language": "fr",
                "next": "/t/contoso/reset",
            },
        )
        assert chosen.status_code == 302 and chosen["Location"] == "/t/contoso/reset"
        cookie = client.cookies[settings.LANGUAGE_COOKIE_NAME]
        assert cookie.value == "fr" and cookie["httponly"] and cookie["samesite"] == "Lax"
        assert_page(client.get("/t/contoso/reset"), "fr", "start")
        assert_page(client.get("/t/contoso/sign-in"), "fr", "sign-in")

    def test_choosing_needs_the_forms_csrf_token(self, open_tenant: Any) -> None:
        client = browser("de", enforce_csrf_checks=True)
        client.get("/t/contoso/reset")
        refused = client.post("/language", {"language": "fr", "next": "/t/contoso/reset"})
        assert refused.status_code == 403
        assert settings.LANGUAGE_COOKIE_NAME not in client.cookies

    def test_an_unknown_language_or_a_foreign_next_changes_nothing(self, open_tenant: Any) -> None:
        client = browser("de", enforce_csrf_checks=True)
        token = csrf_token(client.get("/t/contoso/reset").content.decode())
        unknown = client.post("/language", {"csrfmiddlewaretoken": token, "language": "xx"})
        assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
        assert unknown.status_code in (204, 302)
        away = client.post(
            "/language",
            {"csrfmiddlewaretoken": token, "language": "es", "next": "https://evil.example/"},
        )
        assert away.status_code == 302 and not away["Location"].startswith("https://evil")

    def test_the_administration_pages_stay_english(self, open_tenant: Any, make_user: Any) -> None:
        admin = make_user(open_tenant, "ga@contoso.com", roles=["global-administrator"])
        page = signed_in("de", admin.upn).get("/t/contoso/admin/")
        assert page.status_code == 200
        assert '<html lang="en">' in text(page) and page["Content-Language"] == "en"
        assert 'id="language-switcher"' not in page.content.decode()


class TestCatalogues:
    @pytest.mark.parametrize("language", LANGUAGES)
    def test_every_message_is_translated_and_none_is_fuzzy(self, language: str) -> None:
        catalog = catalogue(language)
        assert not catalog.fuzzy
        untranslated = [
            m.id
            for m in entries(language)
            if not (all(m.string) if isinstance(m.string, tuple) else m.string)
        ]
        assert untranslated == []
        assert [m.id for m in entries(language) if m.fuzzy] == []

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_the_catalogue_holds_every_message_of_the_templates_and_the_code(
        self, language: str
    ) -> None:
        """Run `scripts/messages update`, then translate, when this fails."""
        script = load_messages_script()
        templates = {m[2] for m in script.template_messages()}
        assert len(templates) > 100  # the end users' pages and messages were read
        used = templates | {m[2] for m in script.python_messages()}
        known = {m.id for m in entries(language)}
        assert sorted(map(str, used - known)) == []

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_placeholders_survive_translation(self, language: str) -> None:
        placeholder = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
        for message in entries(language):
            ids = message.id if isinstance(message.id, tuple) else (message.id,)
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            wanted = sorted(placeholder.findall(ids[-1]))
            for string in strings:
                assert sorted(placeholder.findall(string)) == wanted, (message.id, string)

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_no_translation_brings_markup_of_its_own(self, language: str) -> None:
        """Templates print literal translations unescaped, some inside attribute values."""
        for message in entries(language):
            ids = "".join(message.id if isinstance(message.id, tuple) else (message.id,))
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            for string in strings:
                for character in '"<>&':
                    assert string.count(character) <= ids.count(character), (message.id, string)

    @pytest.mark.parametrize("language", LANGUAGES)
    def test_the_compiled_catalogue_matches_its_source(self, language: str) -> None:
        """Run `scripts/messages compile` (and commit the .mo) when this fails."""
        compiled = io.BytesIO()
        write_mo(compiled, catalogue(language), use_fuzzy=False)
        compiled.seek(0)
        expected = gettext.GNUTranslations(compiled)
        mo = LOCALE / language / "LC_MESSAGES" / "django.mo"
        with mo.open("rb") as shipped:
            actual = gettext.GNUTranslations(shipped)
        # The header (msgid "") names the Babel version that wrote it; the messages must match.
        assert {k: v for k, v in actual._catalog.items() if k != ""} == {  # type: ignore[attr-defined]
            k: v
            for k, v in expected._catalog.items()  # type: ignore[attr-defined]
            if k != ""
        }
        assert actual.info()["plural-forms"] == expected.info()["plural-forms"]

    def test_every_offered_language_has_a_catalogue(self) -> None:
        offered = {code for code, _ in settings.LANGUAGES}
        assert offered == {"en", *LANGUAGES}
        assert all(translation.check_for_language(code) for code in offered)

    def test_plurals_follow_each_languages_rules(self) -> None:
        with translation.override("fr"):
            assert translation.ngettext("%(count)d minute", "%(count)d minutes", 1) == (
                "%(count)d minute"
            )
            assert translation.ngettext("%(count)d second", "%(count)d seconds", 0) == (
                "%(count)d seconde"
            )
        with translation.override("de"):
            assert translation.ngettext("%(count)d second", "%(count)d seconds", 2) == (
                "%(count)d Sekunden"
            )


class TestMessagesInTheRequestsLanguage:
    def test_the_code_email_of_a_german_reset_is_german(self, registered_alice: User) -> None:
        client = browser("de")
        client.post("/t/contoso/reset", {"username": registered_alice.upn})
        client.post("/t/contoso/reset/verify", {"action": "challenge", "method": "email"})
        [message] = mail.outbox
        assert message.subject == "Ihr Prüfcode"
        assert "Jemand setzt das Passwort Ihres Kontos zurück" in message.body
        assert re.search(r"Ihr Code: \d{8}", message.body)
        assert "Geben Sie ihn niemals weiter" in message.body

    def test_the_same_email_stays_english_for_an_english_reset(
        self, registered_alice: User
    ) -> None:
        client = browser()
        client.post("/t/contoso/reset", {"username": registered_alice.upn})
        client.post("/t/contoso/reset/verify", {"action": "challenge", "method": "email"})
        [message] = mail.outbox
        assert message.subject == "Your verification code"
        assert re.search(r"Your code: \d{8}", message.body)

    def test_the_text_message_of_a_french_reset_is_french(
        self, open_tenant: Any, alice: User
    ) -> None:
        register_sms(alice, MOBILE)
        client = browser("fr")
        client.post("/t/contoso/reset", {"username": alice.upn})
        client.post("/t/contoso/reset/verify", {"action": "challenge", "method": "sms"})
        sent = OutboxMessage.objects.filter(to=MOBILE).order_by("-pk").first()
        assert sent is not None
        assert re.fullmatch(
            r"\d{8} est votre code de vérification\. Ne le communiquez à personne\.", sent.body
        )

    @pytest.mark.django_db(transaction=True)
    def test_the_notice_of_a_spanish_change_is_spanish(self, open_tenant: Any, alice: User) -> None:
        """Sent when the change commits, still inside the Spanish request."""
        client = signed_in("es", alice.upn)
        mail.outbox.clear()
        client.post(
            "/t/contoso/change",
            {"current_password": PASSWORD, "new_password": NEW, "confirm_password": NEW},
        )
        [notice] = mail.outbox
        assert notice.subject == "Se ha cambiado su contraseña de Contoso"
        assert notice.body.startswith("Hola, ")
        assert "La contraseña de su cuenta de Contoso alice@contoso.com se cambió el" in notice.body
        assert re.search(r"el \d{1,2} de \w+ de \d{4} a las \d\d:\d\d UTC", notice.body)


class TestApiCodesStayStable:
    def test_a_refused_sign_in_keeps_its_code(self, api: Any, alice: User) -> None:
        refused = api.call(
            "POST",
            "/tenants/contoso/sessions",
            {"username": alice.upn, "password": "wrong"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
        assert refused.status_code == 401
        assert refused.json()["code"] == "invalid_credentials"
        assert refused.json()["message"] == "Ihr Konto oder Passwort ist falsch."

    def test_a_rejected_password_keeps_its_codes(self, api: Any, alice: User) -> None:
        api.sign_in("contoso", alice.upn)
        rejected = api.call(
            "POST",
            "/me/password",
            {"current_password": PASSWORD, "new_password": "kurz"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
        assert rejected.status_code == 422
        body = rejected.json()
        assert body["code"] == "password_rejected"
        assert {"password_too_short", "password_too_simple"} <= {r["code"] for r in body["rules"]}
        assert body["message"].startswith("Das neue Passwort erfüllt nicht die Passwortregeln:")
        too_short = next(r for r in body["rules"] if r["code"] == "password_too_short")
        assert too_short["message"] == "Verwenden Sie mindestens 8 Zeichen."
        assert too_short["minimum"] == 8

    def test_a_failed_verification_keeps_its_code(self, api: Any, registered_alice: User) -> None:
        flow = api.call(
            "POST", "/tenants/contoso/password-resets", {"username": registered_alice.upn}
        ).json()
        failed = api.call(
            "POST",
            f"/password-resets/{flow['id']}/verifications",
            {"method": "email", "code": "12345678"},
            HTTP_ACCEPT_LANGUAGE="de",
        )
        assert failed.status_code == 422 and failed.json()["code"] == "verification_failed"
        assert failed.json()["message"].startswith("Das stimmt nicht überein.")

    def test_live_feedback_describes_the_rules_in_the_readers_language(
        self, api: Any, open_tenant: Any
    ) -> None:
        checked = api.call(
            "POST",
            "/tenants/contoso/password-checks",
            {"password": "abc", "username": "alice@contoso.com"},
            HTTP_ACCEPT_LANGUAGE="es",
        )
        assert checked.status_code == 200
        rules = {r["code"]: r["description"] for r in checked.json()["rules"]}
        assert rules["length"] == "Entre 8 y 256 caracteres."
