# The origin gatecrash starts as origin.kind uvicorn: a tiny ASGI app that reads the whole
# request body and answers 200 "ok\n". What is tested is uvicorn's connection handling (its
# keep-alive timer, --timeout-keep-alive), not this app.


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"text/plain"), (b"content-length", b"3")],
    })
    await send({"type": "http.response.body", "body": b"ok\n"})
