from __future__ import annotations

import pytest

from db.token_cipher import TokenCipher, TokenCipherError, generate_key

TOKEN = "AQD-refresh-token-of-ann"


def test_a_token_round_trips_and_is_not_stored_in_plaintext() -> None:
    cipher = TokenCipher([generate_key()])
    encrypted = cipher.encrypt(TOKEN)
    assert TOKEN not in encrypted
    assert cipher.decrypt(encrypted) == TOKEN


def test_the_old_key_still_decrypts_after_a_new_key_is_put_first() -> None:
    old, new = generate_key(), generate_key()
    stored = TokenCipher([old]).encrypt(TOKEN)
    rotated_cipher = TokenCipher([new, old])
    assert rotated_cipher.decrypt(stored) == TOKEN
    rotated = rotated_cipher.rotate(stored)
    # After rotation the old key may be dropped: only the new one is needed.
    assert TokenCipher([new]).decrypt(rotated) == TOKEN
    with pytest.raises(TokenCipherError):
        TokenCipher([old]).decrypt(rotated)


def test_a_token_from_a_removed_key_is_a_clear_error_without_the_token() -> None:
    stored = TokenCipher([generate_key()]).encrypt(TOKEN)
    with pytest.raises(TokenCipherError, match="rotate-keys") as raised:
        TokenCipher([generate_key()]).decrypt(stored)
    assert TOKEN not in str(raised.value)


@pytest.mark.parametrize(
    "keys",
    [pytest.param([], id="none"), pytest.param(["not-a-fernet-key"], id="malformed")],
)
def test_bad_keys_are_refused_without_echoing_them(keys: list[str]) -> None:
    with pytest.raises(TokenCipherError) as raised:
        TokenCipher(keys)
    assert "not-a-fernet-key" not in str(raised.value)


def test_the_repr_hides_the_keys() -> None:
    key = generate_key()
    assert key not in repr(TokenCipher([key]))


def test_derived_keys_differ_by_purpose_and_follow_the_first_key() -> None:
    first, second = generate_key(), generate_key()
    cipher = TokenCipher([first, second])
    assert cipher.derive_key("a") != cipher.derive_key("b")
    assert cipher.derive_key("a") == TokenCipher([first]).derive_key("a")
    assert cipher.derive_key("a") != TokenCipher([second, first]).derive_key("a")
    assert first.encode() not in cipher.derive_key("a")
