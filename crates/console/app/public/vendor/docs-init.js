// Renders /openapi.json with the Swagger UI bundle served from this origin. "Try it
// out" is off: the reference reads the contract, the console is where things run.
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#reference",
  supportedSubmitMethods: [],
  deepLinking: true,
});
