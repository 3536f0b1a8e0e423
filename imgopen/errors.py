"""The one error type that carries an API code ("400", "413", "422", "503"...) from any layer."""

from __future__ import annotations


class ImgOpenError(Exception):
    """A failure a user can act on. `code` is an API.md section 1 code, `msg` says what to do."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg

    def __str__(self) -> str:
        return self.msg


def bad_request(msg: str) -> ImgOpenError:
    return ImgOpenError("400", msg)


def not_found(msg: str) -> ImgOpenError:
    return ImgOpenError("404", msg)


def weights_missing(msg: str) -> ImgOpenError:
    return ImgOpenError("503", msg)
