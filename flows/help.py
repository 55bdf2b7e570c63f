"""What the bot says when asked for help, or spoken to in words it does not know."""

from __future__ import annotations

from bot.core.events import CommandInvoked, MessageReceived
from bot.core.messages import Header, Message, Reply, Text
from bot.core.router import FlowContext, Router


def help_message(ctx: FlowContext) -> Message:
    """Help for the platform the person is on: Slack has `/med`, Teams and the local chat do
    not, and nobody is told about a platform they do not use."""
    t = ctx.t
    platform = ctx.actor.platform
    body = "\n".join(
        (
            t("help.pulses", minimum=ctx.settings.min_group_size),
            t(f"help.proposals.{platform}"),
            t("help.commands"),
            t(f"help.where.{platform}"),
        )
    )
    return Message(
        summary=t("help.title"),
        parts=[Header(text=t("help.title")), Text(text=body)],
    )


def on_help(ctx: FlowContext, event: CommandInvoked) -> Reply:
    return Reply(notice=help_message(ctx))


def on_message(ctx: FlowContext, event: MessageReceived) -> Reply:
    word = (event.text.split() or [""])[0].lower()
    if word in ("help", "hjælp", "hjaelp", "?"):
        return Reply(notice=help_message(ctx))
    return Reply()


def on_unknown(ctx: FlowContext, event: MessageReceived) -> Reply:
    """Words the bot does not know, written to it directly: say so, and where help is."""
    return Reply(
        notice=Message(summary=ctx.t("help.unknown"), parts=[Text(text=ctx.t("help.unknown"))])
    )


def register(router: Router) -> None:
    router.command("help", "hjælp")(on_help)
    router.message(on_message)
    router.unknown(on_unknown)
