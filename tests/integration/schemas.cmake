# Schema governance in a real Shield with NATS KV (protoc builds the descriptor sets).
if(TARGET arqon-shield)
  arq_python_test(integration_schemas test_schemas 300)
endif()
