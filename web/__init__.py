"""HTTP layer: routes, endpoints, parameters, problem details and the OpenAPI document."""
