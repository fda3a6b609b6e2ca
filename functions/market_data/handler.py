"""market_data Lambda: every minute of the session (EventBridge Scheduler), outside the VPC, a
few sub-minute fetches of the watchlist's latest 1-minute bars, each new bar handed to the
stop monitor by an asynchronous invoke. No database: an empty watchlist costs one S3 read."""

import time
from functools import lru_cache, partial

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from tradeflow import clock
from tradeflow.adapters import watchlist
from tradeflow.adapters.bars_handover import invoke_stop_monitor
from tradeflow.adapters.market_data import ProviderError, alpaca, coinbase, keys, replay
from tradeflow.adapters.market_data.http import client
from tradeflow.pipeline.market_data import MarketData
from tradeflow.settings import MarketDataEnv, env

logger, metrics = Logger(), Metrics()


@lru_cache
def fetcher() -> MarketData:
    """This container's fetcher: one HTTP client kept warm, keys read through the SSM cache."""
    settings = env(MarketDataEnv)
    http = client()
    fetchers = {"alpaca_crypto": partial(alpaca.crypto_bars, http), "coinbase": partial(coinbase.candles, http)}

    def stocks(symbols, now):
        found = keys.alpaca_keys()
        if found is None:
            raise ProviderError("alpaca", "no keys: run tradeflow market-data set-keys --aws")
        return alpaca.stock_bars(http, *found, symbols, now, feed=settings.alpaca_feed)

    fetchers["alpaca"] = stocks
    if settings.replay_bars_file:  # the local stack's recorded bars (the demo, the replay)
        fetchers[replay.SOURCE] = replay.RecordedBars.load(settings.replay_bars_file)
    return MarketData(watchlist=partial(watchlist.read, settings.state_bucket), settings_of=keys.settings,
                      fetchers=fetchers, hand_over=partial(invoke_stop_monitor, settings.stop_monitor_function))


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event, context):
    settings = env(MarketDataEnv)
    if not settings.in_session(clock.now()):
        return {"bars": 0, "idle": "outside the NYSE session"}
    handed = 0
    for n in range(settings.ticks_per_invocation):
        if n:
            time.sleep(settings.tick_seconds)
        report = fetcher().tick(clock.now())
        handed += report.handed_over
        if report.failures or report.unpriced or report.stale:
            logger.warning("symbols without a fresh price", failures=report.failures, unpriced=report.unpriced,
                           stale=report.stale)
        metrics.add_metric(name="ProviderCalls", unit=MetricUnit.Count, value=sum(report.calls.values()))
        metrics.add_metric(name="StaleSymbols", unit=MetricUnit.Count, value=len(report.stale))
        if not report.watched:
            break  # nothing to watch: the next scheduled run looks again
    metrics.add_metric(name="BarsHandedOver", unit=MetricUnit.Count, value=handed)
    return {"bars": handed}
