# The Brain end to end: nats-server, redis-server, arqon-shield and arqon-brain processes.
if(TARGET arqon-brain AND TARGET arqon-shield)
  arq_python_test(integration_brain test_brain 300)
endif()
