# The Shield end to end against a real nats-server, with independent Python clients.
if(TARGET arqon-shield)
  arq_python_test(integration_shield test_shield 600)
endif()
