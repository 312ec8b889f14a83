"""The official `openai` Python SDK as a client of `troupe serve`.

Run by `the_official_openai_python_sdk_reads_every_answer` in
tests/openai.rs, which starts the server on a test model that always
answers TROUPE_EXPECTED_REPLY and then checks what Troupe stored. Every
answer goes through the SDK's own parsing: the model list, whole replies,
streams (with and without usage), errors as the SDK's exceptions.

Environment: TROUPE_URL (the server's /v1 base URL), TROUPE_OPERATOR_TOKEN,
TROUPE_USER_TOKEN (minted for the user "tina"), TROUPE_EXPECTED_REPLY.
"""

import os
import sys

import openai
from openai import OpenAI

BASE_URL = os.environ["TROUPE_URL"]
EXPECTED = os.environ["TROUPE_EXPECTED_REPLY"]
NOTICE = "> You are chatting with Chef Marco, an AI"


def check(condition, what):
    """Fails the script with `what` when `condition` does not hold."""
    if not condition:
        raise AssertionError(what)


def user(text):
    return {"role": "user", "content": text}


def read_stream(stream):
    """The text, finish reason and usage of a streamed reply."""
    pieces, finish, usage = [], None, None
    for chunk in stream:
        check(chunk.object == "chat.completion.chunk", chunk)
        if chunk.usage is not None:
            usage = chunk.usage
        if chunk.choices:
            choice = chunk.choices[0]
            if choice.delta.content:
                pieces.append(choice.delta.content)
            if choice.finish_reason is not None:
                finish = choice.finish_reason
    return "".join(pieces), finish, usage


def models(client):
    listed = client.models.list()
    ids = [model.id for model in listed]
    check(ids == ["chef", "creator", "decor"], f"model ids: {ids}")
    check(all(m.object == "model" and m.owned_by == "troupe" for m in listed.data), listed)
    chef = client.models.retrieve("chef")
    check(chef.id == "chef" and chef.created > 0, chef)


def stored_turns(client):
    first = client.chat.completions.create(
        model="chef", messages=[user("How do I make risotto?")], user="sdk-user"
    )
    content = first.choices[0].message.content
    check(first.object == "chat.completion" and first.model == "chef", first)
    check(first.choices[0].message.role == "assistant", first)
    check(first.choices[0].finish_reason == "stop", first)
    check(content.startswith(NOTICE), f"the notice opens the first reply: {content!r}")
    check(content.endswith(EXPECTED), content)
    check(first.usage.total_tokens == 49, first.usage)
    check(first.model_extra["troupe"]["stored"] is True, first.model_extra)
    stream = client.chat.completions.create(
        model="chef",
        messages=[
            user("How do I make risotto?"),
            {"role": "assistant", "content": content},
            user("Which stock should I use?"),
        ],
        extra_body={"safety_identifier": "sdk-user"},
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage = read_stream(stream)
    check(text == EXPECTED, f"no second notice: {text!r}")
    check(finish == "stop", finish)
    check(usage is not None and usage.total_tokens == 49, usage)


def stateless_turns(client):
    whole = client.chat.completions.create(
        model="chef", messages=[user("Stateless saffron question")]
    )
    check(whole.choices[0].message.content.endswith(EXPECTED), whole)
    check(whole.model_extra["troupe"]["stored"] is False, whole.model_extra)
    stream = client.chat.completions.create(
        model="chef", messages=[user("Stateless saffron question")], stream=True
    )
    text, finish, usage = read_stream(stream)
    check(text.startswith(NOTICE) and text.endswith(EXPECTED), text)
    check(finish == "stop" and usage is None, (finish, usage))


def user_token(client):
    reply = client.chat.completions.create(model="chef", messages=[user("Hello from my token")])
    check(reply.choices[0].message.content.endswith(EXPECTED), reply)
    try:
        client.chat.completions.create(
            model="chef", messages=[user("sneaky")], user="someone-else"
        )
    except openai.PermissionDeniedError as error:
        check(error.status_code == 403, error)
    else:
        raise AssertionError("a token chatted as another user")


def errors(client):
    try:
        client.chat.completions.create(model="gpt-4o", messages=[user("hi")])
    except openai.NotFoundError as error:
        check(error.code == "model_not_found", error.body)
        check("/v1/models" in error.message, error.message)
    else:
        raise AssertionError("an unknown model was answered")
    try:
        client.chat.completions.create(model="chef", messages=[user("hi")], n=2)
    except openai.BadRequestError as error:
        check(error.param == "n", error.body)
    else:
        raise AssertionError("n=2 was answered")


def main():
    operator = OpenAI(
        base_url=BASE_URL, api_key=os.environ["TROUPE_OPERATOR_TOKEN"], max_retries=0
    )
    tina = OpenAI(base_url=BASE_URL, api_key=os.environ["TROUPE_USER_TOKEN"], max_retries=0)
    print(f"openai {openai.__version__}")
    for name, run in [
        ("models", lambda: models(operator)),
        ("stored turns", lambda: stored_turns(operator)),
        ("stateless turns", lambda: stateless_turns(operator)),
        ("end-user token", lambda: user_token(tina)),
        ("errors", lambda: errors(operator)),
    ]:
        run()
        print(f"ok: {name}")
    print("all checks passed")


if __name__ == "__main__":
    sys.exit(main())
