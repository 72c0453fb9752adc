# homelab.deploy: the two commands a newcomer needs (see README.md)
#   make demo   build a local managed node, deploy the demo stack to it, fetch it through Traefik
#   make test   unit tests, sanity, lint, node integration tests and molecule scenarios
SHELL := /bin/bash
ENV := source tests/env.sh && hl_env
# host port forwarded to the node's port 80, where Traefik listens
DEMO_PORT ?= 18480
export HLNODE_FORWARD ?= $(DEMO_PORT):80

.PHONY: demo test node down destroy unit sanity lint integration molecule
demo:
	@$(ENV) && $$HLNODE build && $$HLNODE up && \
	ansible-playbook -i "$$($$HLNODE inventory)" playbooks/demo.yml && \
	echo && echo "curl http://demo.localhost:$(DEMO_PORT)/" && curl -fsS http://demo.localhost:$(DEMO_PORT)/

test:
	@tests/run

node:
	@$(ENV) && $$HLNODE build && $$HLNODE up

down:
	@$(ENV) && $$HLNODE down

destroy:
	@$(ENV) && $$HLNODE destroy --all

unit sanity lint integration molecule:
	@tests/run $@
