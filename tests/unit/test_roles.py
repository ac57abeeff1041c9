"""Entra's rules of who may reset whose password, and who may change policy."""

import pytest

from sspr.directory.roles import Role, can_manage_policy, can_reset_password, is_admin

GA = Role.GLOBAL_ADMINISTRATOR
APA = Role.AUTHENTICATION_POLICY_ADMINISTRATOR
PA = Role.PASSWORD_ADMINISTRATOR
HA = Role.HELPDESK_ADMINISTRATOR


class TestPasswordReset:
    @pytest.mark.parametrize(
        ("actor", "target", "allowed"),
        [
            ([GA], [], True),
            ([GA], [GA], True),
            ([GA], [APA], True),
            ([PA], [], True),
            ([PA], [PA], True),
            ([PA], [HA], False),
            ([PA], [GA], False),
            ([HA], [], True),
            ([HA], [HA], True),
            ([HA], [PA], True),
            ([HA], [GA], False),
            ([HA], [APA], False),
            ([HA], [HA, GA], False),
            ([APA], [], False),
            ([], [], False),
            ([HA, GA], [GA], True),
        ],
    )
    def test_who_may_reset_whom(self, actor: list[Role], target: list[Role], allowed: bool) -> None:
        """A helpdesk administrator cannot reset a Global Administrator, and so on."""
        assert can_reset_password(actor, target) is allowed


class TestPolicyAndLabels:
    def test_only_global_and_authentication_policy_admins_manage_policy(self) -> None:
        assert can_manage_policy([GA]) and can_manage_policy([APA])
        assert not can_manage_policy([PA]) and not can_manage_policy([HA])
        assert not can_manage_policy([])

    def test_admin_roles(self) -> None:
        assert is_admin(["helpdesk-administrator"])
        assert not is_admin([])

    def test_labels_read_like_entra(self) -> None:
        assert APA.label == "Authentication Policy Administrator"
