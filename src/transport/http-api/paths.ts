/** Where the REST API lives; the web console (a later issue) is served beside it at `/`. */
export const API_PREFIX = '/api/v1';
export const OPENAPI_PATH = `${API_PREFIX}/openapi.json`;
