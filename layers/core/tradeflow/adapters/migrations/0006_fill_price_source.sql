-- Every fill records which source priced it (the quotes row's source: alpaca, coinbase,
-- tradingview, an alert, a replay) and the as-of time of that price, with its age in seconds
-- when the fill was booked. Fills booked before this migration have neither.
ALTER TABLE fills
    ADD COLUMN price_source      text,
    ADD COLUMN price_as_of       timestamptz,
    ADD COLUMN price_age_seconds numeric CHECK (price_age_seconds >= 0),
    ADD CONSTRAINT fills_price_age_with_its_time CHECK ((price_as_of IS NULL) = (price_age_seconds IS NULL));
