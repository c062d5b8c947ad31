"""One settings object for the whole service, read from the environment and `.env`.

Build it once at the composition root (`Settings()`), then pass it down; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Language = Literal["ru", "en"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_prefix="", populate_by_name=True)

    # Storage. SQLite is the embedded default; PostgreSQL for larger installs and several replicas.
    database_url: str = Field(default="sqlite:///./leadpact.db")
    data_dir: Path = Field(default=Path(".leadpact"))

    # amoCRM / Kommo integration credentials (from the integration's settings page in amoCRM).
    amocrm_client_id: str | None = None
    amocrm_client_secret: SecretStr | None = None
    amocrm_redirect_uri: str | None = None
    # When set, every account's API base is this URL instead of https://{referer} (Kommo, the sandbox, a proxy).
    amocrm_base_url: str | None = None
    # Where the user's browser is sent to grant access (amoCRM: https://www.amocrm.ru/oauth).
    amocrm_authorize_url: str = "https://www.amocrm.ru/oauth"
    # Private integrations: a long-lived token instead of OAuth (with the account's subdomain host).
    amocrm_long_lived_token: SecretStr | None = None
    amocrm_account_host: str | None = None

    # Encrypts tokens at rest. When unset, a random key is created once in data_dir (embedded installs).
    secret_key: SecretStr | None = None

    # How amoCRM reaches us: the base of the webhook URLs we subscribe.
    public_url: str = "http://127.0.0.1:8000"
    # Not LANGUAGE: that variable is the C library's locale list ("en_US:en") on many machines.
    language: Language = Field(default="ru", validation_alias="LEADPACT_LANGUAGE")

    # amoCRM limits: 7 requests/s per integration.
    rate_limit_per_second: float = Field(default=7.0, gt=0)
    http_timeout_seconds: float = Field(default=15.0, gt=0)
    max_retries: int = Field(default=6, ge=0)

    # Webhooks and the worker.
    # A mass edit of 250 leads (amoCRM's batch size) arrives as one body: ~1.2 MB for 200 leads with a dozen
    # fields each (our own PATCH's echo in the demo), several MB with many fields. Refusing it would lose the
    # edit and count against the hook (amoCRM disables hooks that keep failing).
    webhook_max_body_bytes: int = Field(default=16_000_000, gt=0)
    worker_batch_size: int = Field(default=500, gt=0)
    worker_poll_seconds: float = Field(default=0.2, gt=0)
    worker_lease_seconds: float = Field(default=60.0, gt=0)
    worker_max_attempts: int = Field(default=8, gt=0)
    # Write-back latency: an account's webhooks gather until the oldest is this old (or 250 leads are due), then
    # one PATCH writes every changed lead. Longer saves calls; shorter shows LeadPact's fields sooner.
    writeback_latency_seconds: float = Field(default=3.0, ge=0)
    # Every this often each account's leads changed since the last round are checked (one call when nothing
    # changed): a lost webhook heals within this.
    reconcile_interval_seconds: float = Field(default=45.0, gt=0)
    # Accounts whose plan refuses the webhooks API have no other feed: they are polled this often (a round with
    # nothing changed costs one call), and the overview says changes arrive within this many seconds.
    polling_interval_seconds: float = Field(default=60.0, gt=0)
    # A new install re-reads leads changed this long ago; older history is `leadpact backfill`'s job.
    reconcile_first_run_lookback_seconds: int = Field(default=24 * 3600, ge=0)

    # Provisioning after an install runs as a job: looked for this often, retried with doubling backoff, and
    # leased to one replica for at most this long (a replica that dies mid-run frees the account again).
    provisioning_poll_seconds: float = Field(default=5.0, gt=0)
    provisioning_retry_base_seconds: float = Field(default=30.0, gt=0)
    provisioning_retry_max_seconds: float = Field(default=3600.0, gt=0)
    provisioning_lease_seconds: float = Field(default=900.0, gt=0)

    # People are shown by name: each account's amoCRM user list is re-read at most this often.
    users_refresh_seconds: int = Field(default=3600, gt=0)
    # Won deals, revenue and cost per customer count by the deal's close date ("close_date", the default) or
    # by the lead's creation date ("cohort": of the leads that arrived in the period, how many are won by now).
    stats_won_basis: Literal["close_date", "cohort"] = "close_date"
    # Speed to lead: an open lead nobody has acted on (note, call, task, stage move) for longer than this is
    # listed in the report and flagged in the lead card. Wall-clock hours: nights and weekends count.
    untouched_after_hours: float = Field(default=4.0, gt=0)

    # Prometheus must send `Authorization: Bearer <token>` for /metrics when set; without it, /metrics shows
    # totals only, with the labels that name accounts (account id, amoCRM host) summed away.
    metrics_token: SecretStr | None = None

    # Redis shares each account's rate budget between replicas when set (else PostgreSQL or in-process).
    redis_url: str | None = None

    @property
    def untouched_after_seconds(self) -> int:
        return int(self.untouched_after_hours * 3600)

    @field_validator("database_url")
    @classmethod
    def _normalise_postgres_driver(cls, value: str) -> str:
        # Hosting platforms hand out postgres:// URLs; SQLAlchemy needs the psycopg 3 driver named.
        if value.startswith("postgres://"):
            value = "postgresql://" + value.removeprefix("postgres://")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @property
    def has_amocrm_credentials(self) -> bool:
        oauth = bool(self.amocrm_client_id and self.amocrm_client_secret and self.amocrm_redirect_uri)
        return oauth or bool(self.amocrm_long_lived_token and self.amocrm_account_host)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")
