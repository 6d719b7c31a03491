"""What runs where: serving functions on the serving layer, the training routes in an image.

Every zip function (the API handler, ingest, binding, rollout worker, accrual, risk screening,
the daily rescoring) gets the dependencies layer built without the training libraries
(:data:`infra.layer.TRAINING`: scipy and scikit-learn), which leaves more than 60 MB of
Lambda's 250 MB free (``bench/layer_size.py`` measures it). Two API routes build or compare
knowledge bases on a whole labelled history and need those libraries (k-means, sparse batch
relation features, ``sklearn.metrics``): :data:`TRAINING_ROUTES`. They run in the same Chalice
app packaged as a container image (``infra/training/Dockerfile``: the deployment zip on AWS's
Python base image with every pinned requirement), deployed as :data:`TRAINING_FUNCTION`; the
merge template (``infra.template``) points their API Gateway integrations at it. The route
contracts do not change: the same app answers them.

The test suite holds the split: every other route and every event handler runs its tests with
scipy and scikit-learn unimportable (``tests/serving.py``), as the serving layer has them.
"""

from __future__ import annotations

#: The Chalice-style name of the image function (its log group and IAM follow from it).
TRAINING_FUNCTION = "api_training"
#: (method, path) of the routes the image function answers: everything else is served from zip.
TRAINING_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("POST", "/risk/scenes/build"),  # k-means per scene, sparse batch features
    ("POST", "/risk/backtest"),  # batch features of a history, sklearn.metrics
})
#: The stack parameter naming the pushed image (ECR URI of ``infra/training/Dockerfile``).
IMAGE_PARAMETER = "TrainingImageUri"
#: A build of a few thousand labelled events takes seconds and some hundred MB of frames.
MEMORY_MB = 2048
#: The training libraries' top-level modules: never imported by a serving path.
TRAINING_MODULES: frozenset[str] = frozenset({"scipy", "sklearn"})


def is_training_route(method: str, path: str) -> bool:
    """Whether API Gateway sends ``method path`` (a route template) to the image function."""
    return (method.upper(), path) in TRAINING_ROUTES
