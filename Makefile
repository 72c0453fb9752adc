# homelab.deploy: the two commands a newcomer needs (see README.md)
#   make demo   build a local managed node, deploy the demo stack to it over HTTPS with a certificate from the
#               node's Pebble (Let's Encrypt's ACME test server), fetch it through Traefik
#   make test   unit tests, sanity, lint, node integration tests and molecule scenarios
SHELL := /bin/bash
ENV := source tests/env.sh && hl_env
# host ports forwarded to the node's ports 80 and 443, where Traefik listens
DEMO_PORT ?= 18480
DEMO_HTTPS_PORT ?= 18443
export HLNODE_FORWARD ?= $(DEMO_PORT):80
demo: export HLNODE_FORWARD := $(DEMO_PORT):80 $(DEMO_HTTPS_PORT):443
# Pebble's issuing root, fetched from its management API on the node: what verifies the demo's certificate
DEMO_CA := tests/output/demo-ca.pem

.PHONY: demo test node down destroy unit sanity lint integration molecule
demo:
	@$(ENV) && $$HLNODE build && $$HLNODE up && \
	ansible-playbook -i "$$($$HLNODE inventory)" playbooks/demo.yml -e @tests/harness/demo-pebble.yml && \
	mkdir -p tests/output && $$HLNODE exec -- curl -fsS --cacert /etc/pebble/ca.pem https://127.0.0.1:15000/roots/0 > $(DEMO_CA) && \
	echo && echo "curl --cacert $(DEMO_CA) https://demo.localhost:$(DEMO_HTTPS_PORT)/" && \
	curl -fsS --cacert $(DEMO_CA) https://demo.localhost:$(DEMO_HTTPS_PORT)/

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
