"""Roles, permissions, users and bearer tokens: least privilege as the AML duties are split.

The onboarding system submits customers and learns only the outcome (tipping-off risk: hit details must not reach
the business flow); a screening-API client (``screening_api``) matches names against the lists and sees no case
data; analysts propose decisions, approvers give the second decision of four eyes; auditors read
everything including the audit trail but change nothing; the data protection officer serves data-subject requests;
admins manage users, tokens and lists but see no case data.

Token rows (made, stored hashed, found, revoked) are ``kyc.tokens``; this module decides who may hold one.

Who may hold a token for whom: an admin manages users but must never be able to act as one of
them, or a single person could propose and approve a decision under two names and break four eyes. So a user
created over HTTP (``register_user``) gets no token at all; its first token — and any token for somebody else — is
issued only on the server, by ``kyc users token NAME`` (``issue_token``), and handed to that person out of band.
Over HTTP a caller can only replace its own token (``rotate_own_token``: the calling token is revoked with it), list
its tokens and revoke them; an admin lists and revokes other users' tokens but never mints one. Expiry and the
bound on active tokens per user are in ``kyc.tokens``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from kyc import audit, tokens
from kyc.errors import Conflict, NotFound
from kyc.storage.access import ApiToken, User
from kyc.storage.base import utcnow
from kyc.tokens import hash_token as hash_token  # re-exported for authentication callers

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")


class Role(StrEnum):
    ONBOARDING = "onboarding"
    ANALYST = "analyst"
    APPROVER = "approver"
    SENIOR_MANAGER = "senior_manager"
    """Approves (or refuses) relationships with PEPs, their family members and close associates (AMLR Art. 42)."""
    AUDITOR = "auditor"
    DPO = "dpo"
    ADMIN = "admin"
    SCREENING_API = "screening_api"
    """A system screening through the OpenSanctions-compatible API (Marble, nomenklatura): nothing else."""


class Permission(StrEnum):
    SUBMIT_SCREENING = "submit_screening"
    READ_SCREENING = "read_screening"
    """Status and outcome of a job; the onboarding role only for jobs it submitted (see ``may_read_job``)."""
    READ_HITS = "read_hits"
    PROPOSE_DECISION = "propose_decision"
    APPROVE_DECISION = "approve_decision"
    READ_AUDIT = "read_audit"
    EXPORT_SUBJECT = "export_subject"
    CORRECT_SUBJECT = "correct_subject"
    MANAGE_USERS = "manage_users"
    MANAGE_LISTS = "manage_lists"
    READ_LISTS = "read_lists"
    """List status and versions: public information, but not needed by the onboarding system or the DPO."""
    UPDATE_CUSTOMER = "update_customer"
    """Correct a party's screened data or a customer's risk (triggers a rescreen) — compliance officers."""
    END_RELATIONSHIP = "end_relationship"
    """End a customer relationship: stops monitoring and starts the retention clock (approvers)."""
    RECORD_NOTIFICATION = "record_notification"
    """Record that an authority notification was sent, with the authority's reference (compliance officers)."""
    REQUEST_BLOCK_LIFT = "request_block_lift"
    """Ask for a customer's asset-freeze block to be lifted, with ground and reason (the first of four eyes)."""
    APPROVE_BLOCK_LIFT = "approve_block_lift"
    """Approve or reject somebody else's block-lift request (the second of four eyes: approvers)."""
    USE_SCREENING_API = "use_screening_api"
    """Match, search and read list entities through the OpenSanctions-compatible API (no case data at all)."""
    WORK_CASES = "work_cases"
    """Claim, assign and comment on cases (compliance officers)."""
    READ_PEP_APPROVALS = "read_pep_approvals"
    """See PEP relationship approvals and their basis."""
    APPROVE_PEP = "approve_pep"
    """Approve or refuse a relationship with a PEP, family member or close associate (senior management)."""
    SEARCH = "search"
    """Screen a name ad hoc with a stated purpose, outside any customer's screening (compliance officers)."""


ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = {
    Role.ONBOARDING: frozenset({Permission.SUBMIT_SCREENING, Permission.READ_SCREENING}),
    Role.ANALYST: frozenset(
        {
            Permission.READ_SCREENING,
            Permission.READ_HITS,
            Permission.PROPOSE_DECISION,
            Permission.READ_LISTS,
            Permission.UPDATE_CUSTOMER,
            Permission.RECORD_NOTIFICATION,
            Permission.REQUEST_BLOCK_LIFT,
            Permission.WORK_CASES,
            Permission.READ_PEP_APPROVALS,
            Permission.SEARCH,
        }
    ),
    Role.APPROVER: frozenset(
        {
            Permission.READ_SCREENING,
            Permission.READ_HITS,
            Permission.APPROVE_DECISION,
            Permission.READ_LISTS,
            Permission.UPDATE_CUSTOMER,
            Permission.END_RELATIONSHIP,
            Permission.RECORD_NOTIFICATION,
            Permission.REQUEST_BLOCK_LIFT,
            Permission.APPROVE_BLOCK_LIFT,
            Permission.WORK_CASES,
            Permission.READ_PEP_APPROVALS,
            Permission.SEARCH,
        }
    ),
    Role.SENIOR_MANAGER: frozenset({Permission.READ_PEP_APPROVALS, Permission.APPROVE_PEP}),
    Role.AUDITOR: frozenset(
        {
            Permission.READ_SCREENING,
            Permission.READ_HITS,
            Permission.READ_AUDIT,
            Permission.READ_LISTS,
            Permission.READ_PEP_APPROVALS,
        }
    ),
    Role.DPO: frozenset({Permission.EXPORT_SUBJECT, Permission.CORRECT_SUBJECT}),
    Role.ADMIN: frozenset({Permission.MANAGE_USERS, Permission.MANAGE_LISTS, Permission.READ_LISTS}),
    Role.SCREENING_API: frozenset({Permission.USE_SCREENING_API}),
}


@dataclass(frozen=True)
class Principal:
    """Who is calling: what audit rows and four-eyes checks are keyed on."""

    user_id: str
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)


@dataclass(frozen=True)
class UserInfo:
    """A user as listed to admins: never a token, only how many are active."""

    id: str
    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None
    active_tokens: int


class UserExists(Conflict):
    code = "user_exists"


class UnknownUser(NotFound):
    pass


def can(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def may_read_job(principal: Principal, submitted_by: str | None) -> bool:
    """Compliance roles read any job; the onboarding system only the jobs it submitted itself."""
    if not principal.can(Permission.READ_SCREENING):
        return False
    if principal.can(Permission.READ_HITS):
        return True
    return submitted_by is not None and submitted_by == principal.user_id


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"user name {name!r}: use 1-128 letters, digits, '.', '_', '@' or '-'")
    return name


def _user_by_name(session: Session, name: str) -> User:
    user = session.scalars(select(User).where(User.name == name)).one_or_none()
    if user is None:
        raise UnknownUser(f"no user named {name!r}")
    return user


def register_user(session: Session, name: str, role: Role | str, *, actor: Principal | str) -> UserInfo:
    """Create a user WITHOUT a token: what an admin may do over HTTP, so the admin never holds the new identity.

    The person gets a first token from the server operator (``kyc users token NAME``), out of band.
    """
    user = _add_user(session, name, Role(role), actor, with_token=False)
    return UserInfo(user.id, user.name, Role(user.role), user.created_at, user.disabled_at, 0)


def create_user(
    session: Session, name: str, role: Role | str, *, actor: Principal | str = "system:cli"
) -> tuple[Principal, str]:
    """Create a user with one token (server CLI only); the plaintext token is returned here and nowhere else."""
    role = Role(role)
    user = _add_user(session, name, role, actor, with_token=True)
    minted = tokens.mint(session, user.id, role.value, actor=actor)
    return Principal(user.id, user.name, role), minted.token


def _add_user(session: Session, name: str, role: Role, actor: Principal | str, *, with_token: bool) -> User:
    _check_name(name)
    if session.scalars(select(User.id).where(User.name == name)).first() is not None:
        raise UserExists(f"user {name!r} already exists")
    user = User(id=uuid.uuid4().hex, name=name, role=role.value, created_by=_actor_id(actor))
    session.add(user)
    session.flush()
    details = {"role": role.value, "token_issued": with_token}
    audit.record(session, actor=actor, action="user.create", object_type="user", object_id=user.id, details=details)
    return user


def _enabled_user(session: Session, name: str) -> User:
    user = _user_by_name(session, name)
    if user.disabled_at is not None:
        raise ValueError(f"user {name!r} is disabled")
    return user


def issue_token(session: Session, name: str, *, actor: Principal | str = "system:cli") -> str:
    """A token for an existing, enabled user — server CLI only, never over HTTP (see the module docstring).

    A user registered over HTTP gets its first token this way; others rotate without downtime (issue, switch,
    revoke the old one), within the bound of active tokens per user.
    """
    user = _enabled_user(session, name)
    return tokens.mint(session, user.id, user.role, actor=actor).token


def rotate_own_token(session: Session, principal: Principal, *, revoke: str) -> str:
    """Replace the caller's token ``revoke`` (the one it authenticated with) by a new one, in the same step.

    Only the principal's own identity is ever involved, so rotation over HTTP cannot hand anyone another user's
    token, and the number of tokens never grows: a token that is not the caller's is refused.
    """
    return tokens.rotate(session, principal, revoke).token


def authenticate(session: Session, token: str | None) -> Principal | None:
    """The principal behind a bearer token, or None for a missing, unknown, revoked, expired or disabled one."""
    if token is None or not tokens.looks_like_token(token):
        return None
    row = session.execute(
        select(User.id, User.name, User.role)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == hash_token(token),
            ApiToken.revoked_at.is_(None),
            ApiToken.expires_at > utcnow(),
            User.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return Principal(row.id, row.name, Role(row.role))


def revoke_token(session: Session, token: str, *, actor: Principal | str = "system:cli") -> bool:
    """Revoke one token by its plaintext (e.g. one that leaked); True when it was active."""
    return tokens.revoke_plaintext(session, token, actor=actor)


def user_tokens(session: Session, name: str, *, actor: Principal | str) -> list[tokens.TokenInfo]:
    """A user's tokens for an admin or the server operator (never a token itself); the listing is audited."""
    user = _user_by_name(session, name)
    found = tokens.list_tokens(session, user.id)
    tokens.audit_listing(session, user.id, actor, found)
    return found


def revoke_user_token(session: Session, name: str, token_id: int, *, actor: Principal | str) -> tokens.TokenInfo:
    """Revoke one token of a user by its id (an admin or the server operator); audited."""
    user = _user_by_name(session, name)
    return tokens.revoke(session, user.id, token_id, actor=actor, reason="by_admin")


def revoke_user(session: Session, name: str, *, actor: Principal | str = "system:cli") -> int:
    """Revoke every token of a user and disable the user; returns how many tokens were active."""
    user = _user_by_name(session, name)
    count = tokens.revoke_all(session, user.id, actor)
    user.disabled_at = user.disabled_at or utcnow()
    audit.record(
        session, actor=actor, action="user.revoke", object_type="user", object_id=user.id, details={"tokens": count}
    )
    return count


def list_users(session: Session, *, actor: Principal | str) -> list[UserInfo]:
    """Every user with role, state and active-token count; the listing itself is audited (who looked at users)."""
    audit.record(session, actor=actor, action="user.list", object_type="user", object_id="*", purpose="security")
    users = session.scalars(select(User).order_by(User.name)).all()
    active = tokens.active_counts(session)
    return [
        UserInfo(
            u.id, u.name, Role(u.role), u.created_at, u.disabled_at, active.get(u.id, 0) if not u.disabled_at else 0
        )
        for u in users
    ]


def _actor_id(actor: Principal | str) -> str:
    return actor.user_id if isinstance(actor, Principal) else actor
