"""Migrator: the on-event handler of the migrations custom resource (CDK Provider framework).

On Create and Update it applies tradeflow's pending schema migrations to Aurora and returns
the versions it applied; on Delete it does nothing (the data outlives the resource). The
Provider framework reports the result to CloudFormation, so this handler never needs the
response URL and a failure here fails (and rolls back) the deploy with the error message.
"""

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parameters import get_secret
from tradeflow.adapters.db import conninfo_from_secret, migrate
from tradeflow.settings import DatabaseEnv, env

logger = Logger(service="migrator")
PHYSICAL_ID = "tradeflow-schema"


@logger.inject_lambda_context
def on_event(event, context):
    if event["RequestType"] == "Delete":
        return {"PhysicalResourceId": event.get("PhysicalResourceId", PHYSICAL_ID)}
    settings = env(DatabaseEnv)
    applied = migrate(conninfo_from_secret(get_secret(settings.database_secret_arn, transform="json")))
    logger.info("migrations applied", applied=applied)
    return {"PhysicalResourceId": PHYSICAL_ID, "Data": {"Applied": ",".join(applied) or "none"}}
