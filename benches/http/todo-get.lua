-- wrk: the todo function's `get` of an existing todo.
wrk.method = "POST"
wrk.body = '{"action": "get", "id": "todo-1"}'
wrk.headers["Content-Type"] = "application/json"
