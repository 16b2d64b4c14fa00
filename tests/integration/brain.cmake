# The Brain end to end: nats-server, redis-server, arqon-shield and arqon-brain processes.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_brain test_brain 300)
endif()
# The Brain under load: a burst far above its rate, SIGTERM under load, a backlog.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_brain_load test_brain_load 300)
endif()
# Issue 12 hardening: cheap refusals for unjoined rooms, history pages from since_seq,
# JSON-safe error reasons, and a metrics server slow clients cannot hold.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_brain_hardening test_brain_hardening 180)
endif()

# Deployment settings: Redis credentials, a NATS server list, stream replicas.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_deploy test_deploy 300)
endif()

# `cmake --install` into a temporary prefix; the installed programs run with the installed
# configuration.
if(TARGET arqon-brain AND TARGET arqon-shield AND TARGET arq)
  arq_python_test(integration_install test_install 300)
endif()

# A 3-node NATS cluster with a node killed under traffic. Registered disabled: it passes in
# the Release build but not yet reliably (under ASan the Brains answered no history request
# for 30 s after the failover), and what it cannot assert (every acknowledged message
# stored) is in docs/deployment.md, "Known limits in a cluster". Run it by hand:
# `ctest -R integration_cluster` reports it as not run; `python3 -m unittest test_cluster`
# in tests/integration (with the environment of the other integration tests) runs it.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_cluster test_cluster 300)
  set_tests_properties(integration_cluster PROPERTIES DISABLED TRUE)
endif()
