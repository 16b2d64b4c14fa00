# The Shield end to end against a real nats-server, with independent Python clients.
if(TARGET arqon-shield)
  arq_python_test(integration_shield test_shield 600)
endif()

# The attacks of docs/security.md, each against a real Shield.
if(TARGET arqon-shield AND TARGET arqon_policies)
  arq_python_test(integration_security test_security 600)
endif()

# The server API (/api/) against two Shields, a Brain and NATS with the strict users.
if(TARGET arqon-shield AND TARGET arqon-brain)
  arq_python_test(integration_server_api test_server_api 300)
endif()

# permessage-deflate (RFC 7692): negotiation, shared compressed frames, compressed replies
# (history pages from a real Brain), bombs and corrupt data.
if(TARGET arqon-shield AND TARGET arqon-brain)
  arq_python_test(integration_compression test_compression 300)
  set_tests_properties(integration_compression PROPERTIES FIXTURES_REQUIRED browser_node_modules)
endif()
