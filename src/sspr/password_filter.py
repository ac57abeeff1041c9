"""`sspr-password-filter`: the service's password rules, run by a domain controller.

Samba AD DC runs it as its `check password script` for every password set on the DC (a user's
change or an administrator's reset), so passwords set on-premises obey the same rules and the same
banned-password lists as passwords set through the service:

    [global]
        check password script = /usr/local/bin/sspr-password-filter --policy /etc/sspr/policy.json

How Samba calls it (Samba 4.11 and later):
- the new password on standard input, UTF-8, without a trailing newline; no arguments of its own;
- environment: SAMBA_CPS_ACCOUNT_NAME (sAMAccountName, always), SAMBA_CPS_USER_PRINCIPAL_NAME and
  SAMBA_CPS_FULL_NAME (when the account has them); it runs as root;
- exit status 0 accepts the password; anything else refuses it. The client is told only the
  ordinary complexity error (LDAP 19, `0000052D ... complexity criteria`), never this program's
  output, which goes to stderr (Samba's log) and to syslog (facility auth), without the password.

The script REPLACES Samba's built-in complexity check (Samba calls it only while complexity is on),
so the complexity of Active Directory is always enforced here, policy file or not, enforce or audit:
at least 3 of the 4 character classes, and not the account name (sAMAccountName or the UPN's name).

The policy file is written by the on-premises agent, which fetches the tenant's policy outbound;
the DC never accepts a connection for it. The file is read at every call, so a new policy applies
at once, without restarting Samba. It is JSON:

    {
      "tenant_name": "Contoso",          # the tenant's own name, scored like a banned term
      "min_length": 8,                   # default 8
      "max_length": 256,                 # default 256
      "min_character_classes": 3,        # 1-4, default 3 (complexity above still demands 3)
      "banned_passwords": ["contoso", "blank"],   # the tenant's custom list, default none
      "password_protection": "enforce"   # or "audit": log "would have been rejected", accept
    }

Other keys are ignored, so the agent may add to the format. With a policy file the rules are the
service's: LengthRule, CharacterClassesRule, AccountNameRule and BannedPasswordRule (the global
list shipped with the product, the custom list, the user's names, the points score), as built by
`rules_from_policy_file`. The user's names come from SAMBA_CPS_FULL_NAME (first and last word).

Failing open, as Entra's DC agent does: with no policy file yet (the agent has not fetched one),
with one that cannot be read, or when the tenant's rules fail to run, only the complexity above
applies, and the reason is logged (syslog error).

Exit status: 0 accepted (or audit only); 1 refused by the rules; 2 bad input or usage.

Start-up matters (it runs for every password set; Samba warns past one second): this module imports
nothing of the service at import time, and the rules it uses need no Django settings and no data
directory (NotCurrentPasswordRule, which needs the service's database, is not one of them).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from sspr.policy.rules import PasswordContext, PasswordRule, Violation

PROG = "sspr-password-filter"
ACCEPT, REFUSE, BAD_INPUT = 0, 1, 2
# What Active Directory's own complexity demands, which this script stands in for.
AD_COMPLEXITY_CLASSES = 3
DEFAULTS: dict[str, Any] = {
    "tenant_name": "",
    "min_length": 8,
    "max_length": 256,
    "min_character_classes": 3,
    "banned_passwords": [],
    "password_protection": "enforce",
}
MODES = ("enforce", "audit")


class PolicyError(ValueError):
    """The policy file is there but cannot be used."""


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    # Broken by the complexity Active Directory demands: refused whatever the mode.
    complexity: list[Violation]
    # Broken by the tenant's policy: refused in enforce mode, only logged in audit mode.
    policy: list[Violation]
    mode: str


def load_policy(path: str) -> dict[str, Any] | None:
    """The policy file's settings with defaults filled in; None when there is no file yet."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError(f"cannot read {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise PolicyError(f"{path}: expected a JSON object")
    return validate_policy(data)


def validate_policy(data: Mapping[str, Any]) -> dict[str, Any]:
    policy = {**DEFAULTS, **{k: v for k, v in data.items() if v is not None}}
    for key in ("min_length", "max_length", "min_character_classes"):
        if type(policy[key]) is not int or policy[key] < 0:
            raise PolicyError(f"{key} must be a whole number, not {policy[key]!r}")
    if not 1 <= policy["min_character_classes"] <= 4:
        raise PolicyError("min_character_classes must be between 1 and 4")
    if policy["max_length"] < policy["min_length"]:
        raise PolicyError("max_length is below min_length")
    banned = policy["banned_passwords"]
    if not isinstance(banned, list) or not all(isinstance(t, str) for t in banned):
        raise PolicyError("banned_passwords must be a list of strings")
    if not isinstance(policy["tenant_name"], str):
        raise PolicyError("tenant_name must be a string")
    if policy["password_protection"] not in MODES:
        raise PolicyError(f"password_protection must be one of {', '.join(MODES)}")
    return policy


def complexity_rules() -> list[PasswordRule]:
    """Active Directory's complexity, which Samba skips once a check password script is set."""
    from sspr.policy.rules import AccountNameRule, CharacterClassesRule

    return [CharacterClassesRule(AD_COMPLEXITY_CLASSES), AccountNameRule()]


def rules_from_policy_file(data: Mapping[str, Any]) -> list[PasswordRule]:
    """The tenant's rules: the same classes the service checks passwords with."""
    from sspr.policy.rules import AccountNameRule, CharacterClassesRule, LengthRule
    from sspr.policy.rules.banned import BannedPasswordRule

    policy = validate_policy(data)
    return [
        LengthRule(policy["min_length"], policy["max_length"]),
        CharacterClassesRule(policy["min_character_classes"]),
        AccountNameRule(),
        BannedPasswordRule(policy["banned_passwords"]),
    ]


def contexts_from_env(env: Mapping[str, str], tenant_name: str = "") -> list[PasswordContext]:
    """What Samba tells about the account, once by UPN and once by sAMAccountName when they differ.

    AccountNameRule looks at the name before the @ of `upn`; Active Directory's own check looks at
    the sAMAccountName, so both are checked.
    """
    from sspr.policy.rules import PasswordContext

    account = env.get("SAMBA_CPS_ACCOUNT_NAME", "")
    upn = env.get("SAMBA_CPS_USER_PRINCIPAL_NAME", "") or account
    full_name = env.get("SAMBA_CPS_FULL_NAME", "")
    names = full_name.split()
    context = PasswordContext(
        upn=upn,
        given_name=names[0] if names else "",
        family_name=names[-1] if len(names) > 1 else "",
        display_name=full_name,
        tenant_name=tenant_name,
    )
    contexts = [context]
    if account and account.lower() != upn.split("@")[0].lower():
        contexts.append(
            PasswordContext(upn=account, given_name=context.given_name,
                            family_name=context.family_name, display_name=full_name,
                            tenant_name=tenant_name)
        )  # fmt: skip
    return contexts


def evaluate(
    password: str, rules: Sequence[PasswordRule], contexts: Sequence[PasswordContext]
) -> list[Violation]:
    """Every violation, each code once."""
    found: dict[str, Violation] = {}
    for context in contexts:
        for rule in rules:
            for violation in rule.check(password, context):
                found.setdefault(violation.code, violation)
    return list(found.values())


def check(password: str, policy: Mapping[str, Any] | None, env: Mapping[str, str]) -> Verdict:
    tenant_name = policy["tenant_name"] if policy else ""
    mode = policy["password_protection"] if policy else "enforce"
    contexts = contexts_from_env(env, tenant_name)
    complexity = evaluate(password, complexity_rules(), contexts)
    seen = {v.code for v in complexity}
    policy_violations = []
    if policy is not None:
        policy_violations = [
            v
            for v in evaluate(password, rules_from_policy_file(policy), contexts)
            if v.code not in seen
        ]
    accepted = not complexity and (mode == "audit" or not policy_violations)
    return Verdict(accepted, complexity, policy_violations, mode)


class _Log:
    def __init__(self, use_syslog: bool) -> None:
        self.syslog: Any = None
        if use_syslog:
            try:
                import syslog

                syslog.openlog(PROG, syslog.LOG_PID, syslog.LOG_AUTH)
                self.syslog = syslog
            except ImportError:  # not on this platform
                pass

    def __call__(self, level: str, message: str) -> None:
        print(f"{PROG}: {message}", file=sys.stderr)
        if self.syslog is not None:
            priority = {"error": self.syslog.LOG_ERR, "warning": self.syslog.LOG_WARNING}
            self.syslog.syslog(priority.get(level, self.syslog.LOG_NOTICE), message)


def _parse_args(argv: Sequence[str] | None) -> Any:
    import argparse

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Check a new password (on stdin, as Samba's check password script hands it"
        " over) against the tenant's rules. Exit 0 accepts, 1 refuses.",
    )
    parser.add_argument(
        "--policy",
        required=True,
        metavar="FILE",
        help="the tenant's policy file (JSON) written by the agent",
    )
    parser.add_argument("--no-syslog", action="store_true", help="log to stderr only")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    log = _Log(use_syslog=not args.no_syslog)
    env = os.environ
    who = f"account={env.get('SAMBA_CPS_ACCOUNT_NAME', '')!r}"
    try:
        password = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError:
        log("error", f"{who} refused: the password is not valid UTF-8")
        return BAD_INPUT

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        log("error", f"policy file unusable, only complexity applies: {exc}")
        policy = None
    else:
        if policy is None:
            log("notice", f"no policy file {args.policy} yet, only complexity applies")

    try:
        verdict = check(password, policy, env)
    except Exception as exc:  # noqa: BLE001 - fail open on the policy, never on complexity
        # The exception's text only when it names a file: a rule's own could quote the password.
        detail = f": {exc}" if isinstance(exc, OSError) else ""
        log("error", f"policy rules failed ({type(exc).__name__}{detail}); only complexity applies")
        verdict = check(password, None, env)

    codes = ", ".join(v.code for v in [*verdict.complexity, *verdict.policy])
    if not verdict.accepted:
        log("warning", f"{who} refused: {codes}")
        return REFUSE
    if verdict.policy:
        log("notice", f"{who} would have been rejected (audit mode): {codes}")
    return ACCEPT


if __name__ == "__main__":
    sys.exit(main())
