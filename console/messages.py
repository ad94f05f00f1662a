"""Every refusal the console answers, in the page's language.

A refusal is a ``schemas.errors.FundwatchError``: the console's own (``RefusedError``, raised by
its endpoints) or one from below (``casework.lead_status.StatusChangeError`` ...). Each says
its HTTP status; those with a ``code`` known here are told in the reader's language, with
their ``params`` (codes among them named through ``console.labels``). An error without a known
code gets a general sentence in that language: its English detail goes to the log only.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casework.monthly_report import BEIJING
from console.labels import label
from schemas.errors import FundwatchError

LANG_COOKIE = "lang"  # set by the page's script whenever its language is chosen

# code -> (zh, en); {name} is a param of the refusal.
MESSAGES: dict[str, tuple[str, str]] = {
    # sign-in and the request itself
    "not_signed_in": ("请先登录。", "Please sign in."),
    "cross_site": ("已拒绝来自其他网站的请求。", "A request from another site was refused."),
    "csrf": (
        "页面已过期（缺少或错误的安全令牌），请刷新页面后重试。",
        "The page is out of date (missing or wrong CSRF token): reload it and try again.",
    ),
    "console_closed": (
        "网页控制台未开放：请设置 FUNDWATCH_CONSOLE_USERS（见 README）。",
        "The web console is closed: set FUNDWATCH_CONSOLE_USERS (see the README).",
    ),
    "users_file": (
        "控制台的用户文件无法读取，请联系管理员。",
        "The console's users file is unreadable: tell its administrator.",
    ),
    "not_found": ("未找到该页面。", "No such page."),
    "bad_choice": ("“{name}”的取值无效：{value}。", "Not a valid {name}: {value}."),
    # leads and schemes
    "no_lead": (
        "没有这条线索，或您的部门无权查看。",
        "No such lead, or your department may not see it.",
    ),
    "no_scheme": (
        "没有这条案件线索，或您的部门无权查看。",
        "No such scheme, or your department may not see it.",
    ),
    # a status change (console.lead_pages)
    "not_a_change": ("无法识别的状态变更请求。", "That is not a status change."),
    "nothing_chosen": (
        "请选择新的状态，或勾选将该账户列入负面清单。",
        "Choose a new status, or put the account on the negative list.",
    ),
    "no_version": (
        "请求未说明所依据的状态版本，请刷新页面后重试。",
        "The request does not say which version of the status it was made on: reload the page.",
    ),
    "already_listed": ("该账户已在负面清单上。", "The account is already on the negative list."),
    "not_saved": (
        "未保存：消息系统（Kafka）没有确认收到，请稍后重试。",
        "Not saved: Kafka did not acknowledge it. Try again in a moment.",
    ),
    # casework.lead_status.StatusChangeError codes
    "stale": (
        "{by} 已于 {at} 将这条线索改为“{status}”，晚于您填写时看到的状态。"
        "请先核对上方的状态记录；如仍需更改，再次提交即可。",
        "{by} changed this lead to “{status}” at {at}, after the state you were looking at. "
        "Check the status history above; to make your change all the same, save again.",
    ),
    "stale_unknown": (
        "这条线索的状态已被他人更改，请先核对上方的状态记录。",
        "Someone else changed this lead's status: check the status history above.",
    ),
    "same_status": ("这条线索已经是“{status}”状态。", "This lead is already “{status}”."),
    "needs_outcome": ("办结线索须选择处理结果。", "Closing a lead needs an outcome."),
    "outcome_not_closing": (
        "只有办结线索时才填写处理结果。",
        "An outcome is given only when a lead is closed.",
    ),
    "needs_note": (
        "将线索从“{current}”退回“{status}”，须在说明中写明原因。",
        "Moving the lead back from “{current}” to “{status}” needs a note saying why.",
    ),
    "unknown_lead": ("线索主题上没有这条线索。", "There is no such lead on the leads topic."),
    "no_author": ("状态变更须写明操作人。", "A status change needs the name of who makes it."),
    # any other FundwatchError
    "refused": ("请求未被接受（{status}）。", "The request was not accepted ({status})."),
}
# Params that are codes of a label table, named in the reader's language.
_LABELLED_PARAMS = {"status": "status", "current": "status", "name": "field"}
FIELD_NAMES: dict[str, tuple[str, str]] = {
    "county": ("县区", "county"),
    "sector": ("行业", "sector"),
    "severity": ("线索等级", "severity"),
    "status": ("状态", "status"),
    "lang": ("语言", "language"),
}


class RefusedError(FundwatchError):
    """A request the console refuses: its HTTP status, the message's code and params, and
    anything else the answer carries for the page's script (``extra``)."""

    def __init__(
        self, http_status: int, code: str, extra: dict[str, Any] | None = None, **params: str
    ) -> None:
        super().__init__(code)
        self.http_status = http_status
        self.code = code
        self.params = params
        self.extra = extra or {}


def page_language(cookie: str | None) -> str:
    return "en" if cookie == "en" else "zh"


def _when(iso: str) -> str:
    try:
        return datetime.fromisoformat(iso).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def _param(name: str, value: str, lang: str) -> str:
    if name == "at":
        return _when(value)
    if name == "name":
        names = FIELD_NAMES.get(value)
        return (names[0] if lang == "zh" else names[1]) if names else value
    kind = _LABELLED_PARAMS.get(name)
    return label(kind, value, lang) if kind is not None else value


def message_of(error: FundwatchError, lang: str) -> tuple[str, str]:
    """The code of ``error`` as the console knows it, and the sentence in ``lang``."""
    code = str(getattr(error, "code", ""))
    params: dict[str, str] = dict(getattr(error, "params", None) or {})
    if code == "stale" and not params.get("by"):
        code = "stale_unknown"
    if code not in MESSAGES:
        code, params = "refused", {"status": str(error.http_status)}
    template = MESSAGES[code][0 if lang == "zh" else 1]
    return code, template.format(**{k: _param(k, v, lang) for k, v in params.items()})


def refusal_body(error: FundwatchError, lang: str) -> dict[str, Any]:
    """The JSON an API endpoint answers a refusal with."""
    code, text = message_of(error, lang)
    extra = getattr(error, "extra", None) or {}
    params = getattr(error, "params", None) or {}
    return {"error": text, "code": code, "params": dict(params), **extra}
