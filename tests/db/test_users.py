from __future__ import annotations

import datetime as dt

import pytest

from db.database import Database
from db.models import Snapshot, User
from db.oauth_states import StateRejected, consume_state, record_state
from db.token_cipher import TokenCipher, TokenCipherError, generate_key
from db.users import (
    AccountConflict,
    InvalidUsername,
    UnknownUser,
    get_user,
    remove_user,
    rotate_tokens,
    save_spotify_login,
    save_user_token,
    set_user_status,
    slug_username,
    token_life,
    unique_username,
)
from tests.factories import make_user

NOW = dt.datetime(2026, 9, 1, 12, 0)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        pytest.param("Ann Smith", "ann-smith", id="spaces"),
        pytest.param("Zoë Müller!", "zoe-muller", id="accents-and-punctuation"),
        pytest.param("__dj.k__", "dj.k", id="leading-and-trailing-punctuation"),
        pytest.param("🎧🎧", "listener", id="nothing-usable"),
        pytest.param("x" * 200, "x" * 56, id="too-long"),
    ],
)
def test_slug_username_follows_the_username_rule(text: str, slug: str) -> None:
    assert slug_username(text) == slug


def test_unique_username_adds_a_counter_on_collision(database: Database) -> None:
    def scenario() -> list[str]:
        make_user("ann-smith")
        make_user("ann-smith-2")
        make_user("ann-smithers")
        return [unique_username("Ann Smith"), unique_username("Bob")]

    assert database.run_sync(scenario) == ["ann-smith-3", "bob"]


def test_a_spotify_login_creates_then_updates_the_user_of_that_account(
    database: Database,
) -> None:
    def scenario() -> tuple[tuple[str, bool], tuple[str, bool], User]:
        first = save_spotify_login("acct-1", "Ann Smith", "cipher-1")
        set_user_status(User.get(User.username == "ann-smith").id, User.REAUTH_REQUIRED)
        again = save_spotify_login("acct-1", "Ann S.", "cipher-2", "some-other-name")
        return first, again, User.get(User.spotify_account_id == "acct-1")

    first, again, user = database.run_sync(scenario)
    assert first == ("ann-smith", True)
    # Keyed on the account: a second login never renames or duplicates the user.
    assert again == ("ann-smith", False)
    assert user.refresh_token_encrypted == "cipher-2"
    assert user.status == User.ACTIVE
    assert user.display_name == "Ann S."
    assert database.run_sync(User.select().count) == 1


def test_a_login_may_choose_a_free_username_but_not_a_taken_one(database: Database) -> None:
    database.run_sync(make_user, "ann")
    assert database.run_sync(save_spotify_login, "acct-2", "B", "c", "bee") == ("bee", True)
    with pytest.raises(AccountConflict, match="taken"):
        database.run_sync(save_spotify_login, "acct-3", "C", "c", "ann")
    with pytest.raises(InvalidUsername):
        database.run_sync(save_spotify_login, "acct-4", "D", "c", "-bad name")
    assert database.run_sync(User.select().count) == 2


def test_save_user_token_replaces_the_token_and_keeps_snapshots(database: Database) -> None:
    def scenario() -> tuple[bool, bool, User, int]:
        created = save_user_token("ann", "cipher-1", account_id="acct-1", display_name="Ann")
        Snapshot.create(user=User.get(User.username == "ann"), date=dt.date(2026, 1, 1))
        set_user_status(User.get(User.username == "ann").id, User.REAUTH_REQUIRED)
        again = save_user_token("ann", "cipher-2", account_id="acct-1")
        return created, again, User.get(User.username == "ann"), Snapshot.select().count()

    created, again, user, snapshots = database.run_sync(scenario)
    assert (created, again) == (True, False)
    assert user.refresh_token_encrypted == "cipher-2"
    assert user.status == User.ACTIVE
    assert snapshots == 1


@pytest.mark.parametrize(
    ("username", "account", "message"),
    [
        pytest.param("ann", "acct-other", "another Spotify account", id="user-has-other-account"),
        pytest.param("bob", "acct-1", "already registered as user 'ann'", id="account-taken"),
    ],
)
def test_save_user_token_never_swaps_accounts(
    database: Database, username: str, account: str, message: str
) -> None:
    database.run_sync(save_user_token, "ann", "cipher-1", account_id="acct-1")
    with pytest.raises(AccountConflict, match=message):
        database.run_sync(save_user_token, username, "cipher-2", account_id=account)
    assert database.run_sync(lambda: User.get(User.username == "ann").refresh_token_encrypted) == (
        "cipher-1"
    )


@pytest.mark.parametrize(
    ("obtained", "today", "age", "expiring", "expires_on"),
    [
        pytest.param(NOW, dt.date(2026, 9, 1), 0, False, "2027-03-01", id="fresh"),
        pytest.param(NOW, dt.date(2027, 1, 31), 152, False, "2027-03-01", id="day-before-warning"),
        pytest.param(NOW, dt.date(2027, 2, 1), 153, True, "2027-03-01", id="five-months"),
        pytest.param(NOW, dt.date(2027, 4, 1), 212, True, "2027-03-01", id="past-six-months"),
        pytest.param(
            dt.datetime(2026, 8, 31), dt.date(2026, 9, 1), 1, False, "2027-02-28", id="month-end"
        ),
    ],
)
def test_token_life(
    obtained: dt.datetime, today: dt.date, age: int, expiring: bool, expires_on: str
) -> None:
    life = token_life(obtained, today)
    assert life["token_age_days"] == age
    assert life["token_expiring"] is expiring
    assert life["token_expires_on"] == dt.date.fromisoformat(expires_on)


def test_get_user_reports_the_last_complete_snapshot(database: Database) -> None:
    def scenario() -> dict[str, object]:
        user = make_user("ann")
        Snapshot.create(user=user, date=dt.date(2026, 5, 1), status=Snapshot.COMPLETE)
        Snapshot.create(user=user, date=dt.date(2026, 5, 2), status=Snapshot.FAILED)
        return get_user("ann")

    found = database.run_sync(scenario)
    assert found["last_snapshot"] == dt.date(2026, 5, 1)
    assert found["status"] == User.ACTIVE
    with pytest.raises(UnknownUser):
        database.run_sync(get_user, "nobody")


def test_rotate_tokens_re_encrypts_every_token_with_the_first_key(database: Database) -> None:
    old, new = generate_key(), generate_key()
    database.run_sync(save_user_token, "ann", TokenCipher([old]).encrypt("token-a"))
    database.run_sync(save_user_token, "bob", TokenCipher([old]).encrypt("token-b"))
    assert database.run_sync(rotate_tokens, TokenCipher([new, old]).rotate) == 2
    stored = database.run_sync(lambda: [str(u.refresh_token_encrypted) for u in User.select()])
    assert sorted(TokenCipher([new]).decrypt(c) for c in stored) == ["token-a", "token-b"]


def test_rotate_tokens_changes_nothing_when_one_token_cannot_be_read(
    database: Database,
) -> None:
    old = generate_key()
    database.run_sync(save_user_token, "ann", TokenCipher([old]).encrypt("token-a"))
    database.run_sync(save_user_token, "bob", TokenCipher([generate_key()]).encrypt("token-b"))
    before = database.run_sync(
        lambda: sorted(str(u.refresh_token_encrypted) for u in User.select())
    )
    with pytest.raises(TokenCipherError):
        database.run_sync(rotate_tokens, TokenCipher([generate_key(), old]).rotate)
    after = database.run_sync(lambda: sorted(str(u.refresh_token_encrypted) for u in User.select()))
    assert after == before


def test_remove_user_deletes_their_data_and_refuses_unknown_users(database: Database) -> None:
    def scenario() -> int:
        user = make_user("ann")
        Snapshot.create(user=user, date=dt.date(2026, 1, 1))
        remove_user("ann")
        return Snapshot.select().count()

    assert database.run_sync(scenario) == 0
    with pytest.raises(UnknownUser):
        database.run_sync(remove_user, "ann")


def test_a_state_is_consumed_once_and_only_before_it_expires(database: Database) -> None:
    later = NOW + dt.timedelta(minutes=10)
    database.run_sync(record_state, "n-1", "ann", later, NOW)
    database.run_sync(record_state, "n-2", None, later, NOW)
    assert database.run_sync(consume_state, "n-1", NOW).username == "ann"
    with pytest.raises(StateRejected, match="already used"):
        database.run_sync(consume_state, "n-1", NOW)
    with pytest.raises(StateRejected, match="expired"):
        database.run_sync(consume_state, "n-2", later)
    with pytest.raises(StateRejected, match="unknown"):
        database.run_sync(consume_state, "n-3", NOW)
