"""ORM models, one module per table. Importing this package registers every table on
``tronrent.kit.db.Base.metadata`` (migrations and the schema test rely on that)."""

from tronrent.models.admin_user import AdminRole, AdminUser
from tronrent.models.agent import Agent, AgentStatus
from tronrent.models.agent_application import AgentApplication, ApplicationStatus
from tronrent.models.agent_change import AgentAction, AgentChange
from tronrent.models.agent_earning import AgentEarning, EarningStatus, EarningType
from tronrent.models.agent_withdrawal import AgentWithdrawal, WithdrawalStatus
from tronrent.models.auto_top_up import AutoStopReason, AutoTopUp
from tronrent.models.balance_ledger import BalanceLedgerEntry, LedgerCause
from tronrent.models.bot import Bot, BotStatus
from tronrent.models.bot_change import BotAction, BotChange
from tronrent.models.bot_user import BotUser, BotUserStatus
from tronrent.models.cache_version import CacheVersion
from tronrent.models.catalog_change import CatalogAction, CatalogChange, CatalogEntity
from tronrent.models.chain_transaction import (
    LIVE_CHAIN_TX_STATUSES,
    ChainTransaction,
    ChainTxPurpose,
    ChainTxStatus,
)
from tronrent.models.common import Currency
from tronrent.models.count_package import (
    CountPackage,
    CountPackageChange,
    CountUse,
    CountUseStatus,
)
from tronrent.models.energy_delegation import DelegationStatus, EnergyDelegation
from tronrent.models.energy_package import EnergyPackage, PackageType
from tronrent.models.energy_pool import EnergyPool, PoolStatus
from tronrent.models.energy_transaction import (
    EnergyTransaction,
    EnergyTransactionStatus,
    EnergyTransactionType,
)
from tronrent.models.job_failure import JobFailure
from tronrent.models.merchant import (
    ApiKeyStatus,
    CallbackStatus,
    MerchantApiKey,
    MerchantCallback,
    MerchantCallbackAttempt,
    MerchantKeyChange,
    MerchantNonce,
    MerchantOrder,
)
from tronrent.models.notification_outbox import NotificationOutbox, OutboxStatus
from tronrent.models.order import (
    OPEN_ORDER_STATUSES,
    Order,
    OrderPaymentStatus,
    OrderStatus,
    OrderType,
)
from tronrent.models.payment import MatchMethod, Payment, PaymentStatus
from tronrent.models.payment_change import PaymentAction, PaymentChange
from tronrent.models.payment_monitoring_log import MonitoringStatus, PaymentMonitoringLog
from tronrent.models.pool_change import PoolAction, PoolChange
from tronrent.models.price_config import ENERGY_FLASH_MODE, PriceConfig
from tronrent.models.price_history import PriceChangeType, PriceHistory
from tronrent.models.price_template import PriceTemplate
from tronrent.models.resource_consumption_config import (
    ENERGY_RESOURCE_TYPE,
    ResourceConsumptionConfig,
)
from tronrent.models.scanner_checkpoint import ScannerCheckpoint
from tronrent.models.system_config import ConfigType, SystemConfig
from tronrent.models.system_config_history import SystemConfigHistory
from tronrent.models.user import LoginType, User, UserRole, UserStatus
from tronrent.models.user_status_change import UserStatusChange

__all__ = [
    "ENERGY_FLASH_MODE",
    "ENERGY_RESOURCE_TYPE",
    "LIVE_CHAIN_TX_STATUSES",
    "OPEN_ORDER_STATUSES",
    "AdminRole",
    "AdminUser",
    "Agent",
    "AgentAction",
    "AgentApplication",
    "AgentChange",
    "AgentEarning",
    "AgentStatus",
    "AgentWithdrawal",
    "ApiKeyStatus",
    "ApplicationStatus",
    "AutoStopReason",
    "AutoTopUp",
    "BalanceLedgerEntry",
    "Bot",
    "BotAction",
    "BotChange",
    "BotStatus",
    "BotUser",
    "BotUserStatus",
    "CacheVersion",
    "CallbackStatus",
    "CatalogAction",
    "CatalogChange",
    "CatalogEntity",
    "ChainTransaction",
    "ChainTxPurpose",
    "ChainTxStatus",
    "ConfigType",
    "CountPackage",
    "CountPackageChange",
    "CountUse",
    "CountUseStatus",
    "Currency",
    "DelegationStatus",
    "EarningStatus",
    "EarningType",
    "EnergyDelegation",
    "EnergyPackage",
    "EnergyPool",
    "EnergyTransaction",
    "EnergyTransactionStatus",
    "EnergyTransactionType",
    "JobFailure",
    "LedgerCause",
    "LoginType",
    "MatchMethod",
    "MerchantApiKey",
    "MerchantCallback",
    "MerchantCallbackAttempt",
    "MerchantKeyChange",
    "MerchantNonce",
    "MerchantOrder",
    "MonitoringStatus",
    "NotificationOutbox",
    "Order",
    "OrderPaymentStatus",
    "OrderStatus",
    "OrderType",
    "OutboxStatus",
    "PackageType",
    "Payment",
    "PaymentAction",
    "PaymentChange",
    "PaymentMonitoringLog",
    "PaymentStatus",
    "PoolAction",
    "PoolChange",
    "PoolStatus",
    "PriceChangeType",
    "PriceConfig",
    "PriceHistory",
    "PriceTemplate",
    "ResourceConsumptionConfig",
    "ScannerCheckpoint",
    "SystemConfig",
    "SystemConfigHistory",
    "User",
    "UserRole",
    "UserStatus",
    "UserStatusChange",
    "WithdrawalStatus",
]
