"""The event pipeline's core: plan, synthesize and assemble, over injected stores.

Handlers in functions/ parse the Lambda event and call one function here.
"""
