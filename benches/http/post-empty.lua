-- wrk: POST with an empty body (an invocation of a function that ignores its input).
wrk.method = "POST"
wrk.body = ""
