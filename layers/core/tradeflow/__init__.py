"""tradeflow: TradingView alerts become paper trades in the trader's own AWS account."""

__version__ = "0.1.0"
