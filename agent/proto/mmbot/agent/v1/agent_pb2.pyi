from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("agent_version", "last_seq", "bots", "has_telegram_token")
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    BOTS_FIELD_NUMBER: _ClassVar[int]
    HAS_TELEGRAM_TOKEN_FIELD_NUMBER: _ClassVar[int]
    agent_version: str
    last_seq: int
    bots: _containers.RepeatedCompositeFieldContainer[BotSummary]
    has_telegram_token: bool
    def __init__(self, agent_version: _Optional[str] = ..., last_seq: _Optional[int] = ..., bots: _Optional[_Iterable[_Union[BotSummary, _Mapping]]] = ..., has_telegram_token: _Optional[bool] = ...) -> None: ...

class BotSummary(_message.Message):
    __slots__ = ("name", "venue", "symbol", "state", "config_version", "capabilities", "has_credentials")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    CAPABILITIES_FIELD_NUMBER: _ClassVar[int]
    HAS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    name: str
    venue: str
    symbol: str
    state: str
    config_version: int
    capabilities: Capabilities
    has_credentials: bool
    def __init__(self, name: _Optional[str] = ..., venue: _Optional[str] = ..., symbol: _Optional[str] = ..., state: _Optional[str] = ..., config_version: _Optional[int] = ..., capabilities: _Optional[_Union[Capabilities, _Mapping]] = ..., has_credentials: _Optional[bool] = ...) -> None: ...

class Capabilities(_message.Message):
    __slots__ = ("batch_create", "batch_cancel", "max_batch_create", "max_batch_cancel", "amend", "post_only", "watch_orders", "watch_my_trades", "watch_balance", "dead_man_switch")
    BATCH_CREATE_FIELD_NUMBER: _ClassVar[int]
    BATCH_CANCEL_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_CREATE_FIELD_NUMBER: _ClassVar[int]
    MAX_BATCH_CANCEL_FIELD_NUMBER: _ClassVar[int]
    AMEND_FIELD_NUMBER: _ClassVar[int]
    POST_ONLY_FIELD_NUMBER: _ClassVar[int]
    WATCH_ORDERS_FIELD_NUMBER: _ClassVar[int]
    WATCH_MY_TRADES_FIELD_NUMBER: _ClassVar[int]
    WATCH_BALANCE_FIELD_NUMBER: _ClassVar[int]
    DEAD_MAN_SWITCH_FIELD_NUMBER: _ClassVar[int]
    batch_create: bool
    batch_cancel: bool
    max_batch_create: int
    max_batch_cancel: int
    amend: bool
    post_only: bool
    watch_orders: bool
    watch_my_trades: bool
    watch_balance: bool
    dead_man_switch: bool
    def __init__(self, batch_create: _Optional[bool] = ..., batch_cancel: _Optional[bool] = ..., max_batch_create: _Optional[int] = ..., max_batch_cancel: _Optional[int] = ..., amend: _Optional[bool] = ..., post_only: _Optional[bool] = ..., watch_orders: _Optional[bool] = ..., watch_my_trades: _Optional[bool] = ..., watch_balance: _Optional[bool] = ..., dead_man_switch: _Optional[bool] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class Balance(_message.Message):
    __slots__ = ("asset", "total", "locked", "free")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    LOCKED_FIELD_NUMBER: _ClassVar[int]
    FREE_FIELD_NUMBER: _ClassVar[int]
    asset: str
    total: str
    locked: str
    free: str
    def __init__(self, asset: _Optional[str] = ..., total: _Optional[str] = ..., locked: _Optional[str] = ..., free: _Optional[str] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("bot", "venue", "symbol", "state", "state_reason", "killed", "config_version", "mid", "spread", "open_bids", "open_asks", "balances", "pnl_quote", "pnl_today_quote", "fees_quote", "fills", "volume_quote", "quote_uptime_pct", "base_share_pct", "inventory_target_base_pct", "status_json")
    BOT_FIELD_NUMBER: _ClassVar[int]
    VENUE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    STATE_REASON_FIELD_NUMBER: _ClassVar[int]
    KILLED_FIELD_NUMBER: _ClassVar[int]
    CONFIG_VERSION_FIELD_NUMBER: _ClassVar[int]
    MID_FIELD_NUMBER: _ClassVar[int]
    SPREAD_FIELD_NUMBER: _ClassVar[int]
    OPEN_BIDS_FIELD_NUMBER: _ClassVar[int]
    OPEN_ASKS_FIELD_NUMBER: _ClassVar[int]
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    PNL_QUOTE_FIELD_NUMBER: _ClassVar[int]
    PNL_TODAY_QUOTE_FIELD_NUMBER: _ClassVar[int]
    FEES_QUOTE_FIELD_NUMBER: _ClassVar[int]
    FILLS_FIELD_NUMBER: _ClassVar[int]
    VOLUME_QUOTE_FIELD_NUMBER: _ClassVar[int]
    QUOTE_UPTIME_PCT_FIELD_NUMBER: _ClassVar[int]
    BASE_SHARE_PCT_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_TARGET_BASE_PCT_FIELD_NUMBER: _ClassVar[int]
    STATUS_JSON_FIELD_NUMBER: _ClassVar[int]
    bot: str
    venue: str
    symbol: str
    state: str
    state_reason: str
    killed: bool
    config_version: int
    mid: str
    spread: str
    open_bids: int
    open_asks: int
    balances: _containers.RepeatedCompositeFieldContainer[Balance]
    pnl_quote: str
    pnl_today_quote: str
    fees_quote: str
    fills: int
    volume_quote: str
    quote_uptime_pct: float
    base_share_pct: str
    inventory_target_base_pct: str
    status_json: str
    def __init__(self, bot: _Optional[str] = ..., venue: _Optional[str] = ..., symbol: _Optional[str] = ..., state: _Optional[str] = ..., state_reason: _Optional[str] = ..., killed: _Optional[bool] = ..., config_version: _Optional[int] = ..., mid: _Optional[str] = ..., spread: _Optional[str] = ..., open_bids: _Optional[int] = ..., open_asks: _Optional[int] = ..., balances: _Optional[_Iterable[_Union[Balance, _Mapping]]] = ..., pnl_quote: _Optional[str] = ..., pnl_today_quote: _Optional[str] = ..., fees_quote: _Optional[str] = ..., fills: _Optional[int] = ..., volume_quote: _Optional[str] = ..., quote_uptime_pct: _Optional[float] = ..., base_share_pct: _Optional[str] = ..., inventory_target_base_pct: _Optional[str] = ..., status_json: _Optional[str] = ...) -> None: ...

class GetConfigRequest(_message.Message):
    __slots__ = ("bot", "version")
    BOT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    bot: str
    version: int
    def __init__(self, bot: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class GetConfigResponse(_message.Message):
    __slots__ = ("bot", "version", "config_json")
    BOT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    bot: str
    version: int
    config_json: str
    def __init__(self, bot: _Optional[str] = ..., version: _Optional[int] = ..., config_json: _Optional[str] = ...) -> None: ...

class ValidateConfigRequest(_message.Message):
    __slots__ = ("bot", "config_text", "expected_version")
    BOT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TEXT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    bot: str
    config_text: str
    expected_version: int
    def __init__(self, bot: _Optional[str] = ..., config_text: _Optional[str] = ..., expected_version: _Optional[int] = ...) -> None: ...

class ValidateConfigResponse(_message.Message):
    __slots__ = ("bot", "config_json", "current_version", "preview")
    BOT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    CURRENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_FIELD_NUMBER: _ClassVar[int]
    bot: str
    config_json: str
    current_version: int
    preview: LadderPreview
    def __init__(self, bot: _Optional[str] = ..., config_json: _Optional[str] = ..., current_version: _Optional[int] = ..., preview: _Optional[_Union[LadderPreview, _Mapping]] = ...) -> None: ...

class LadderPreview(_message.Message):
    __slots__ = ("mid", "spread_pct", "bids", "asks", "budget_used_quote", "budget_used_base", "dropped")
    MID_FIELD_NUMBER: _ClassVar[int]
    SPREAD_PCT_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    BUDGET_USED_QUOTE_FIELD_NUMBER: _ClassVar[int]
    BUDGET_USED_BASE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_FIELD_NUMBER: _ClassVar[int]
    mid: str
    spread_pct: str
    bids: _containers.RepeatedCompositeFieldContainer[PreviewQuote]
    asks: _containers.RepeatedCompositeFieldContainer[PreviewQuote]
    budget_used_quote: str
    budget_used_base: str
    dropped: _containers.RepeatedCompositeFieldContainer[DroppedLevel]
    def __init__(self, mid: _Optional[str] = ..., spread_pct: _Optional[str] = ..., bids: _Optional[_Iterable[_Union[PreviewQuote, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[PreviewQuote, _Mapping]]] = ..., budget_used_quote: _Optional[str] = ..., budget_used_base: _Optional[str] = ..., dropped: _Optional[_Iterable[_Union[DroppedLevel, _Mapping]]] = ...) -> None: ...

class PreviewQuote(_message.Message):
    __slots__ = ("price", "amount", "level")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    price: str
    amount: str
    level: int
    def __init__(self, price: _Optional[str] = ..., amount: _Optional[str] = ..., level: _Optional[int] = ...) -> None: ...

class DroppedLevel(_message.Message):
    __slots__ = ("side", "level", "reason")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    side: str
    level: int
    reason: str
    def __init__(self, side: _Optional[str] = ..., level: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ApplyConfigRequest(_message.Message):
    __slots__ = ("bot", "config_text", "expected_version", "author", "comment")
    BOT_FIELD_NUMBER: _ClassVar[int]
    CONFIG_TEXT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    config_text: str
    expected_version: int
    author: str
    comment: str
    def __init__(self, bot: _Optional[str] = ..., config_text: _Optional[str] = ..., expected_version: _Optional[int] = ..., author: _Optional[str] = ..., comment: _Optional[str] = ...) -> None: ...

class ApplyConfigResponse(_message.Message):
    __slots__ = ("bot", "version")
    BOT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    bot: str
    version: int
    def __init__(self, bot: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ConfigErrors(_message.Message):
    __slots__ = ("violations",)
    VIOLATIONS_FIELD_NUMBER: _ClassVar[int]
    violations: _containers.RepeatedCompositeFieldContainer[FieldViolation]
    def __init__(self, violations: _Optional[_Iterable[_Union[FieldViolation, _Mapping]]] = ...) -> None: ...

class FieldViolation(_message.Message):
    __slots__ = ("field", "description")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    field: str
    description: str
    def __init__(self, field: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class BotCommandRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class BotCommandResponse(_message.Message):
    __slots__ = ("bot", "command", "state", "confirmed", "message")
    BOT_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    bot: str
    command: str
    state: str
    confirmed: bool
    message: str
    def __init__(self, bot: _Optional[str] = ..., command: _Optional[str] = ..., state: _Optional[str] = ..., confirmed: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class ListOrdersRequest(_message.Message):
    __slots__ = ("bot", "open_only", "page_size", "page_token")
    BOT_FIELD_NUMBER: _ClassVar[int]
    OPEN_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bot: str
    open_only: bool
    page_size: int
    page_token: str
    def __init__(self, bot: _Optional[str] = ..., open_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("client_order_id", "venue_order_id", "side", "price", "amount", "filled", "status", "post_only", "tag", "created_at", "updated_at")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    VENUE_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FILLED_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POST_ONLY_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    client_order_id: str
    venue_order_id: str
    side: str
    price: str
    amount: str
    filled: str
    status: str
    post_only: bool
    tag: str
    created_at: float
    updated_at: float
    def __init__(self, client_order_id: _Optional[str] = ..., venue_order_id: _Optional[str] = ..., side: _Optional[str] = ..., price: _Optional[str] = ..., amount: _Optional[str] = ..., filled: _Optional[str] = ..., status: _Optional[str] = ..., post_only: _Optional[bool] = ..., tag: _Optional[str] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ...) -> None: ...

class ListOrdersResponse(_message.Message):
    __slots__ = ("orders", "next_page_token")
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[Order]
    next_page_token: str
    def __init__(self, orders: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListFillsRequest(_message.Message):
    __slots__ = ("bot", "page_size", "page_token")
    BOT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bot: str
    page_size: int
    page_token: str
    def __init__(self, bot: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class Fill(_message.Message):
    __slots__ = ("trade_id", "client_order_id", "side", "price", "amount", "fee", "fee_asset", "liquidity", "at", "seq")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    FEE_ASSET_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    trade_id: str
    client_order_id: str
    side: str
    price: str
    amount: str
    fee: str
    fee_asset: str
    liquidity: str
    at: float
    seq: int
    def __init__(self, trade_id: _Optional[str] = ..., client_order_id: _Optional[str] = ..., side: _Optional[str] = ..., price: _Optional[str] = ..., amount: _Optional[str] = ..., fee: _Optional[str] = ..., fee_asset: _Optional[str] = ..., liquidity: _Optional[str] = ..., at: _Optional[float] = ..., seq: _Optional[int] = ...) -> None: ...

class ListFillsResponse(_message.Message):
    __slots__ = ("fills", "next_page_token")
    FILLS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    fills: _containers.RepeatedCompositeFieldContainer[Fill]
    next_page_token: str
    def __init__(self, fills: _Optional[_Iterable[_Union[Fill, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("seq", "at", "kind", "bot", "severity", "data_json")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    DATA_JSON_FIELD_NUMBER: _ClassVar[int]
    seq: int
    at: float
    kind: str
    bot: str
    severity: str
    data_json: str
    def __init__(self, seq: _Optional[int] = ..., at: _Optional[float] = ..., kind: _Optional[str] = ..., bot: _Optional[str] = ..., severity: _Optional[str] = ..., data_json: _Optional[str] = ...) -> None: ...

class ListEventsRequest(_message.Message):
    __slots__ = ("bot", "kinds", "min_severity", "after_seq", "newest_first", "page_size", "page_token")
    BOT_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    bot: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    min_severity: str
    after_seq: int
    newest_first: bool
    page_size: int
    page_token: str
    def __init__(self, bot: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., min_severity: _Optional[str] = ..., after_seq: _Optional[int] = ..., newest_first: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEventsResponse(_message.Message):
    __slots__ = ("events", "next_page_token")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    next_page_token: str
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamEventsRequest(_message.Message):
    __slots__ = ("from_seq", "bot", "kinds", "min_severity")
    FROM_SEQ_FIELD_NUMBER: _ClassVar[int]
    BOT_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    MIN_SEVERITY_FIELD_NUMBER: _ClassVar[int]
    from_seq: int
    bot: str
    kinds: _containers.RepeatedScalarFieldContainer[str]
    min_severity: str
    def __init__(self, from_seq: _Optional[int] = ..., bot: _Optional[str] = ..., kinds: _Optional[_Iterable[str]] = ..., min_severity: _Optional[str] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events", "last_seq")
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    last_seq: int
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., last_seq: _Optional[int] = ...) -> None: ...

class SetCredentialsRequest(_message.Message):
    __slots__ = ("bot", "credentials")
    BOT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    bot: str
    credentials: VenueCredentials
    def __init__(self, bot: _Optional[str] = ..., credentials: _Optional[_Union[VenueCredentials, _Mapping]] = ...) -> None: ...

class VenueCredentials(_message.Message):
    __slots__ = ("api_key", "secret", "passphrase", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    PASSPHRASE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    api_key: str
    secret: str
    passphrase: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, api_key: _Optional[str] = ..., secret: _Optional[str] = ..., passphrase: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class SetCredentialsResponse(_message.Message):
    __slots__ = ("bot", "updated_at")
    BOT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    updated_at: float
    def __init__(self, bot: _Optional[str] = ..., updated_at: _Optional[float] = ...) -> None: ...

class SetTelegramTokenRequest(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class SetTelegramTokenResponse(_message.Message):
    __slots__ = ("updated_at",)
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    updated_at: float
    def __init__(self, updated_at: _Optional[float] = ...) -> None: ...

class DeleteCredentialsRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class DeleteCredentialsResponse(_message.Message):
    __slots__ = ("bot", "existed")
    BOT_FIELD_NUMBER: _ClassVar[int]
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    bot: str
    existed: bool
    def __init__(self, bot: _Optional[str] = ..., existed: _Optional[bool] = ...) -> None: ...

class DeleteTelegramTokenRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeleteTelegramTokenResponse(_message.Message):
    __slots__ = ("existed",)
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    existed: bool
    def __init__(self, existed: _Optional[bool] = ...) -> None: ...

class NotifyTestRequest(_message.Message):
    __slots__ = ("bot",)
    BOT_FIELD_NUMBER: _ClassVar[int]
    bot: str
    def __init__(self, bot: _Optional[str] = ...) -> None: ...

class NotifyTestResponse(_message.Message):
    __slots__ = ("chat_ids",)
    CHAT_IDS_FIELD_NUMBER: _ClassVar[int]
    chat_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, chat_ids: _Optional[_Iterable[int]] = ...) -> None: ...
