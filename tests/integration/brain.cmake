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

# A 3-node NATS cluster with a node killed under traffic: clients stay connected, delivery
# resumes, and every acknowledged message is in the history once, with consecutive seqs.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_cluster test_cluster 300)
endif()
