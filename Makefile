# The two commands of the README. Both install what is missing first (.ci/bootstrap).
.PHONY: run test

# Build and serve the app at http://127.0.0.1:3000/settings/exports
run:
	.ci/serve

# Set up and run every test (what CI runs)
test:
	.ci/test
