"""Paver's developer tooling: everything a developer runs and a Lambda function never does.

The ``paver`` command line (:mod:`paver_dev.cli`), the demo and its report
(:mod:`paver_dev.demo`, one stage module per job), the synthetic world generators
(:mod:`paver_dev.world`), the embedded local AWS (:mod:`paver_dev.local_aws`), the local
server with its event sources (:mod:`paver_dev.serve`, :mod:`paver_dev.local_events`,
:mod:`paver_dev.local_gateway`), packaging (:mod:`paver_dev.packaging`), the synthetic store
photo generator (:mod:`paver_dev.photo_gen`) and the IBM AMLSim converter
(:mod:`paver_dev.amlsim`).

Tooling may import anything (``app``, ``functions``, ``infra``, the core ``paver``, Chalice's
dev server, requests); nothing imports tooling. It is installed into the dev venv by
``make install`` (``pip install -e .``) and is not in the deployment zip, which vendors only
``functions/``, ``layers/paver`` and ``rules/`` (``tests/functional/test_packaging.py`` checks
the built zip).
"""
