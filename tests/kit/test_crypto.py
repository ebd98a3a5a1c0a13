from __future__ import annotations

import pickle

import pytest

from tronrent.kit.crypto import MASK, Secret, SecretBox, generate_key
from tronrent.kit.errors import SecretDecryptionError

PRIVATE_KEY = "8e812436a0e3323166e1f0e8ba79e19e217b2c4a53c970d4cca0cfb1078979df"


class TestSecret:
    def test_masked_everywhere(self) -> None:
        secret = Secret(PRIVATE_KEY)
        shown = [repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret]  # noqa: UP031
        assert all(PRIVATE_KEY not in text for text in shown)
        assert str(secret) == MASK
        assert PRIVATE_KEY not in repr({"key": secret, "list": [secret]})
        assert secret.reveal() == PRIVATE_KEY

    def test_equality_and_pickle(self) -> None:
        assert Secret("a") == Secret("a")
        assert Secret("a") != Secret("b")
        with pytest.raises(TypeError):
            pickle.dumps(Secret("a"))


class TestSecretBox:
    def test_round_trip(self) -> None:
        box = SecretBox([generate_key()])
        token = box.encrypt(PRIVATE_KEY)
        assert PRIVATE_KEY not in token
        assert box.decrypt(token).reveal() == PRIVATE_KEY
        assert box.encrypt(Secret("bot:token")) != box.encrypt(Secret("bot:token"))  # random IV

    def test_unicode(self) -> None:
        box = SecretBox([generate_key()])
        assert box.decrypt(box.encrypt("能量闪租 🔑")).reveal() == "能量闪租 🔑"

    def test_rotation(self) -> None:
        old_key, new_key = generate_key(), generate_key()
        old_box = SecretBox([old_key])
        token = old_box.encrypt(PRIVATE_KEY)

        rotating = SecretBox([new_key, old_key])  # new key first, old kept to decrypt
        assert rotating.decrypt(token).reveal() == PRIVATE_KEY
        assert not rotating.is_current(token)
        rotated = rotating.rotate(token)
        assert rotating.is_current(rotated)

        new_only = SecretBox([new_key])
        assert new_only.decrypt(rotated).reveal() == PRIVATE_KEY
        with pytest.raises(SecretDecryptionError):
            new_only.decrypt(token)

    def test_tampering_detected(self) -> None:
        box = SecretBox([generate_key()])
        token = box.encrypt(PRIVATE_KEY)
        for position in (10, len(token) // 2, len(token) - 5):
            flipped = "A" if token[position] != "A" else "B"
            tampered = token[:position] + flipped + token[position + 1 :]
            with pytest.raises(SecretDecryptionError) as info:
                box.decrypt(tampered)
            assert PRIVATE_KEY not in str(info.value)
        for garbage in ("", "not a token", "é" * 10):
            with pytest.raises(SecretDecryptionError):
                box.decrypt(garbage)
        with pytest.raises(SecretDecryptionError):
            box.rotate(token[:-4])

    def test_wrong_key(self) -> None:
        token = SecretBox([generate_key()]).encrypt(PRIVATE_KEY)
        with pytest.raises(SecretDecryptionError, match="wrong SECRET_KEYS or tampered"):
            SecretBox([generate_key()]).decrypt(token)

    def test_bad_keys_rejected_without_echo(self) -> None:
        with pytest.raises(ValueError, match="secret key #2 is not a valid key") as info:
            SecretBox([generate_key(), "my-secret-password"])
        assert "my-secret-password" not in str(info.value)
        with pytest.raises(ValueError, match="at least one"):
            SecretBox([])

    def test_repr_hides_keys(self) -> None:
        key = generate_key()
        assert key not in repr(SecretBox([key]))
