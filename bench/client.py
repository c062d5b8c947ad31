"""Bench: sustained GETs through the amoCRM client against the sandbox at the configured rate limit.

Starts the sandbox on a loopback port (uvicorn in a thread), installs one account over OAuth, then keeps
`--concurrency` tasks issuing GETs for `--seconds`. Prints the achieved requests/s, its share of the limit and the
429s the sandbox answered (goal: ≥ 95 % of the limit, zero 429s).

    .venv/bin/python bench/client.py [--seconds 15] [--rate 7] [--concurrency 4] [--headroom 0.02]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from urllib.parse import parse_qs, urlsplit

import httpx
from pydantic import SecretStr

from amocrm_sandbox import SandboxConfig, create_sandbox_app
from integration.amocrm import AmoClient, InMemoryTokenStore, OAuthApp, TokenBucket
from integration.servers import serve_in_thread


async def install(http: httpx.AsyncClient, base_url: str, app: OAuthApp) -> tuple[int, InMemoryTokenStore]:
    created = (
        await http.post(f"{base_url}/_sandbox/accounts", json={"subdomain": "bench", "leads": 50})
    ).json()
    consent = await http.get(
        f"{base_url}/oauth", params={"client_id": app.client_id, "account": "bench"}, follow_redirects=False
    )
    code = parse_qs(urlsplit(consent.headers["Location"]).query)["code"][0]
    account_id = int(created["id"])
    return account_id, InMemoryTokenStore({account_id: await app.exchange_code(http, base_url, code)})


async def run(
    base_url: str, config: SandboxConfig, *, seconds: float, rate: float, concurrency: int, headroom: float
) -> None:
    app = OAuthApp(config.client_id, SecretStr(config.client_secret), config.redirect_uri)
    async with httpx.AsyncClient(timeout=10) as http:
        account_id, store = await install(http, base_url, app)
        client = AmoClient(http, limiter=TokenBucket(rate, headroom=headroom))
        api = client.account(account_id, base_url, client.oauth(account_id, base_url, app, store))
        await http.post(f"{base_url}/_sandbox/stats/reset")
        completed = 0
        started = time.monotonic()
        deadline = started + seconds

        async def worker(index: int) -> None:
            nonlocal completed
            paths = ("leads/pipelines", "account", "users")
            while time.monotonic() < deadline:
                await api.request("GET", paths[(completed + index) % len(paths)])
                completed += 1

        await asyncio.gather(*(worker(index) for index in range(concurrency)))
        elapsed = time.monotonic() - started
        stats = (await http.get(f"{base_url}/_sandbox/stats", params={"account_id": account_id})).json()

    achieved = completed / elapsed
    print(f"duration              {elapsed:8.2f} s")
    print(f"requests completed    {completed:8d}   (sandbox counted {stats['requests_total']})")
    print(f"achieved              {achieved:8.2f} req/s")
    print(f"of the {rate:g} req/s limit  {100 * achieved / rate:8.1f} %")
    print(f"429 answers           {stats['responses_429']:8d}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=float, default=7.0, help="the sandbox's limit and the client's pacing")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument(
        "--headroom", type=float, default=0.02, help="the client paces at rate × (1 - headroom)"
    )
    args = parser.parse_args()
    config = SandboxConfig(rate_limit_per_second=args.rate)
    with serve_in_thread(create_sandbox_app(config)) as base_url:
        asyncio.run(
            run(
                base_url,
                config,
                seconds=args.seconds,
                rate=args.rate,
                concurrency=args.concurrency,
                headroom=args.headroom,
            )
        )


if __name__ == "__main__":
    main()
