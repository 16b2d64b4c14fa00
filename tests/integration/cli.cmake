# The arq command-line tool, driven as a user would.
if(NOT ARQ_FUZZ)
  arq_python_test(integration_cli_auth test_cli_auth 120)
endif()

if(NOT ARQ_FUZZ AND TARGET arqon-shield)
  arq_python_test(integration_cli_status test_cli_status 120)
  arq_python_test(integration_cli_pubsub test_cli_pubsub 180)
endif()

# make run's stack (arq dev up/down) end to end: NATS with deploy/nats users, Redis, Brain, Shield.
if(NOT ARQ_FUZZ AND TARGET arqon-shield AND TARGET arqon-brain)
  arq_python_test(integration_dev_stack test_dev_stack 240)
endif()
