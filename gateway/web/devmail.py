"""Development only: the mails of the local outbox (the mailer writes `.eml` files there when
no SMTP server is set), so a newcomer can read a verification code without one.

On only when DEV_MAIL_OUTBOX names the folder (`./scripts/run` sets it when SMTP_URL is not
set); otherwise these pages do not exist (404). A file is only ever one the listing found in
that folder: a name from the URL never becomes a path by itself."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from pathlib import Path

from flask import Blueprint, abort, current_app

from .common import page

dev_mail = Blueprint("dev_mail", __name__, url_prefix="/dev/mail")

MAIL_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,250}\.eml$")
SHOWN = 100


def outbox() -> Path:
    folder = current_app.config.get("DEV_MAIL_OUTBOX")
    if not folder:
        abort(404)
    return Path(folder)


def mail_files() -> list[Path]:
    """The outbox's mails, newest first (names start with their UTC date)."""
    folder = outbox()
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if MAIL_FILE.match(p.name) and p.is_file()
             and not p.is_symlink()]
    return sorted(found, key=lambda p: p.name, reverse=True)[:SHOWN]


def read_mail(path: Path) -> dict:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    text = message.get_body(preferencelist=("plain",))
    return {"name": path.name, "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")), "date": str(message.get("Date", "")),
            "text": text.get_content() if text is not None else ""}


@dev_mail.get("")
def listing():
    return page("dev_mail.html", mails=[read_mail(p) for p in mail_files()], opened=None)


@dev_mail.get("/<name>")
def one(name: str):
    found = {p.name: p for p in mail_files()}
    if name not in found:
        abort(404)
    mails = [read_mail(p) for p in found.values()]
    return page("dev_mail.html", mails=mails, opened=read_mail(found[name]))
