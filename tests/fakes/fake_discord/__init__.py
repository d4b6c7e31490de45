"""A fake Discord (REST API v10 + websocket gateway) on 127.0.0.1 for lemonbot's tests.

One ``aiohttp.web`` server plays Discord well enough for an unmodified discord.py 2.x
client (``commands.Bot`` with app commands) to log in, sync its slash commands, receive
interactions over the gateway and answer them. It is also usable in-process: unit tests
build an interaction payload with :meth:`FakeDiscord.interaction_payload` (or a ready
``discord.Interaction`` with :meth:`FakeDiscord.build_interaction`) and the REST calls
made while answering it land here.

Pointing discord.py at the fake
-------------------------------
Two class attributes, set before the client starts (nothing in the bot changes)::

    discord.http.Route.BASE = fake.api_base                  # http://127.0.0.1:PORT/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

``Route.BASE`` also covers the interaction-callback and webhook routes (discord.py
builds them with the same ``Route``). For a child process, put
``tests/fakes/sitecustomize`` on ``PYTHONPATH`` and set
``LEMONBOT_FAKE_DISCORD_URL=http://127.0.0.1:PORT``: its ``sitecustomize.py`` does
the two assignments at interpreter start. The bot must log in with
:attr:`FakeDiscord.bot_token` (``"fake-bot-token"``); any other token gets 401 on
``GET /users/@me`` (discord.py turns that into ``LoginFailure``) and close code 4004 on
IDENTIFY.

Gateway (``ws://127.0.0.1:PORT/gateway``)
------------------------------------------
Plain-text JSON frames (also when the client asks for ``compress=zlib-stream``: discord.py
only decompresses binary frames). HELLO (op 10) -> HEARTBEAT (op 1) is ACKed (op 11) ->
IDENTIFY (op 2) gets ``READY`` (guild unavailable) then ``GUILD_CREATE`` (full guild:
two text channels, roles, members). RESUME (op 6) of a known session gets ``RESUMED``
(or op 9 when :attr:`FakeDiscord.allow_resume` is false). REQUEST_GUILD_MEMBERS (op 8)
gets one ``GUILD_MEMBERS_CHUNK``. Interactions are sent as ``INTERACTION_CREATE``.
``GET /gateway`` and ``GET /gateway/bot`` are served too (only ``AutoShardedClient``
calls the latter; a plain ``Client`` goes straight to ``DEFAULT_GATEWAY``).

REST routes (under ``/api/v10``)
--------------------------------
- ``GET /gateway``, ``GET /gateway/bot``
- ``GET /users/@me``, ``GET /users/{id}``, ``POST /users/@me/channels`` (create DM)
- ``GET /oauth2/applications/@me`` (and ``/applications/@me``)
- ``GET|PUT|POST /applications/{app}/commands``, ``GET|PATCH|DELETE .../commands/{id}``,
  the same under ``/applications/{app}/guilds/{guild}/commands``
- ``POST /interactions/{id}/{token}/callback`` (JSON or multipart; ``with_response``)
- ``POST /webhooks/{app}/{token}`` (followup, ``wait``),
  ``GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{@original|id}``
- ``GET /channels/{id}``, ``GET|POST /channels/{id}/messages``,
  ``GET|PATCH|DELETE /channels/{id}/messages/{id}``, ``POST /channels/{id}/typing``
- ``GET /guilds/{id}``, ``GET /guilds/{id}/channels``, ``GET /guilds/{id}/roles``,
  ``GET /guilds/{id}/members/{user}``
- ``GET /attachments/{id}/{filename}`` (outside ``/api/v10``): the uploaded bytes.
- ``POST /oauth2/token``, and ``GET /users/@me`` and ``/users/@me/guilds`` with a bearer
  token; ``GET|POST /oauth2/authorize`` outside ``/api/v10`` (``oauth.py``: the
  dashboard's sign-in, authorization code with PKCE)
- Anything else: 404 ``{"message": "404: Not Found", "code": 0}``, recorded in
  :attr:`FakeDiscord.unhandled`.

Every request is recorded in :attr:`FakeDiscord.requests` (:class:`RecordedRequest`:
method, path relative to ``/api/v10``, query, headers without ``Authorization``,
``authorized`` flag, JSON body or parsed ``payload_json``, uploaded files, status).
Responses carry ``Content-Type: application/json`` exactly (discord.py only parses
JSON when the header is exactly that).

Discord's limits and OpenAPI spec
---------------------------------
Every JSON body (and the ``payload_json`` of uploads) is validated against Discord's
OpenAPI spec (``spec.py``; ``validate_spec=False`` turns it off): a request against
it gets 400/50035 and lands in :attr:`FakeDiscord.spec_violations`, which fails the
test like a limit violation below.


Everything the bot sends is held to Discord's documented limits (``limits.py``,
``components.py``): message content, embeds (each part and 6,000 characters in all),
attachments (10 per message; per file :attr:`FakeDiscord.upload_limit`, or
:attr:`FakeDiscord.dm_upload_limit` in DMs, both 10 MiB by default; 25 MiB per
request), components (legacy action rows and Components V2), autocomplete choices,
modals and application commands. An overflow is answered as Discord does (400
``{"code": 50035, "message": "Invalid Form Body", "errors": {...}}``, or 413 40005)
*and* recorded in :attr:`FakeDiscord.limit_violations`; leaving ``async with
FakeDiscord()`` cleanly then raises ``AssertionError`` (:meth:`FakeDiscord.check_violations`),
so the test fails instead of a member's request. A test that provokes one on purpose
takes it with :meth:`FakeDiscord.take_violations`. Empty messages get 400/50006 and
unknown reply targets 400/50035 (not violations: they can happen in real life).

Interactions, guilds, shards
----------------------------
Slash commands: :meth:`FakeDiscord.invoke` / :meth:`FakeDiscord.interaction_payload`
(attachment options take :meth:`FakeDiscord.upload_attachment` objects, served signed
``?ex=..&is=..&hm=..`` by the CDN route, which answers 404 to an unsigned link and logs
every fetch in :attr:`FakeDiscord.cdn_fetches`; it streams the bytes and records in
:attr:`FakeDiscord.cdn_transfers` whether the client read them to the end; an event in
:attr:`FakeDiscord.cdn_gate` holds every answer until it is set; a test may declare a
``size`` other than the real one). Components: :meth:`FakeDiscord.press`,
:meth:`FakeDiscord.choose` (payloads: :meth:`FakeDiscord.component_payload`; found by
label or custom_id anywhere, Components V2 containers included). Modals:
:meth:`FakeDiscord.submit_modal` (:meth:`FakeDiscord.modal_submit_payload`). Message
context-menu commands: :meth:`FakeDiscord.invoke_message_command`
(:meth:`FakeDiscord.message_command_payload`); targets can be member messages from
:meth:`FakeDiscord.add_member_message`. Payloads carry the member's ``locale``
(:attr:`FakeUser.locale`, overridable per call), ``guild_locale``, ``app_permissions``,
``attachment_size_limit``, ``entitlements``, ``authorizing_integration_owners`` and
``context`` as Discord sends them; their ``permissions`` are the member's in that
channel, computed as Discord does from the server-wide permissions and the channel's
overwrites (:meth:`FakeDiscord.set_overwrite`; :meth:`FakeDiscord.guild_permissions_of`
gives the server-wide ones). :meth:`FakeDiscord.add_role` adds roles and
:meth:`FakeDiscord.remove_member` makes a member leave (``GET /guilds/{id}/members/{user}``
then answers 404 10007). :meth:`FakeDiscord.add_guild` adds guilds;
IDENTIFY may carry ``shard``: each connection gets READY/GUILD_CREATE for its guilds
(``(guild_id >> 22) % shard_count``) and dispatches go to the guild's shard
(:attr:`FakeDiscord.identified_shards`, :attr:`FakeDiscord.shard_identifies`).
:meth:`FakeDiscord.accept_token` accepts one token per process; requests record its
label (:attr:`RecordedRequest.bot`). A channel POST with ``enforce_nonce`` and a
nonce seen in that channel in the last 5 minutes returns the existing message.

Fault switches
--------------
- :meth:`FakeDiscord.expire_token` / :meth:`FakeDiscord.expire_all_tokens`: webhook
  requests with the token -> 401 ``{"code": 50027, "message": "Invalid Webhook Token"}``;
  the callback route -> 404 10062 Unknown interaction.
- :meth:`FakeDiscord.unknown_interaction`: webhook requests -> 404 10015 Unknown Webhook,
  callback -> 404 10062.
- :meth:`FakeDiscord.rate_limit_next`: 429 with ``Via``, ``Retry-After``,
  ``X-RateLimit-*`` and ``{"retry_after": ..., "global": false}``: discord.py retries
  it transparently after ``retry_after`` seconds.
- :meth:`FakeDiscord.forbid_channel`: channel message POST -> 403 50013 Missing Permissions
  (and ``app_permissions`` of interactions in that channel lose send/attach/embed).
- :meth:`FakeDiscord.delete_channel`: any route on the channel -> 404 10003 Unknown Channel.
- :meth:`FakeDiscord.block_dms`: messages to that user's DM channel -> 403 50007.
- :meth:`FakeDiscord.fail_next`: any status/code for the next ``count`` matching requests
  (avoid 5xx on purpose: discord.py retries those after sleeping 1 s, 3 s, ...).
- :meth:`FakeDiscord.drop_gateway`: close the websocket; discord.py resumes.

Synchronisation is condition based: :meth:`FakeDiscord.wait_for` re-evaluates a predicate
on every request, gateway event and state change, without fixed sleeps.

Layout
------
:class:`FakeDiscord` (``server.py``: start/stop, waits, observation API) is composed of
mixins that share the state of :class:`~tests.fakes.fake_discord.state.FakeState`:
``payloads.py`` (guild model, member/guild/channel objects), ``interactions.py``
(interaction payloads, ``invoke``), ``gateway.py`` (websocket), ``faults.py`` (fault
switches), ``rest.py`` (recording, routing) and ``routes/`` (the REST handlers by
concern). ``limits.py``, ``components.py`` and ``form_errors.py`` check Discord's
limits. ``records.py`` holds what tests read (:class:`RecordedRequest`,
:class:`FakeInteraction`, ...), ``constants.py`` Discord's numbers, ``errors.py``
the error answers.
"""

from tests.fakes.fake_discord.constants import (
    ATTACH_FILES,
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    DEFAULT_BOT_TOKEN,
    EMBED_LINKS,
    MANAGE_MESSAGES,
    SEND_MESSAGES,
    snowflake,
)
from tests.fakes.fake_discord.records import (
    FakeInteraction,
    FakeUser,
    RecordedEdit,
    RecordedRequest,
    UploadedFile,
)
from tests.fakes.fake_discord.server import FakeDiscord

__all__ = [
    "ATTACH_FILES",
    "DEFAULT_ATTACHMENT_SIZE_LIMIT",
    "DEFAULT_BOT_TOKEN",
    "EMBED_LINKS",
    "MANAGE_MESSAGES",
    "SEND_MESSAGES",
    "FakeDiscord",
    "FakeInteraction",
    "FakeUser",
    "RecordedEdit",
    "RecordedRequest",
    "UploadedFile",
    "snowflake",
]
