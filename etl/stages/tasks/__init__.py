"""Task builders: canonical records -> chat examples, one module per task."""

from etl.stages.tasks import customer_service, menu_qa, order_support, policy_qa, recommendation, review_sentiment

BUILDERS = {
    "menu_qa": menu_qa.build,
    "recommendation": recommendation.build,
    "order_support": order_support.build,
    "review_sentiment": review_sentiment.build,
    "policy_qa": policy_qa.build,
    "customer_service": customer_service.build,
}
