-- restart, as `ramp restart`: replace every pod, a few at a time.
obj.spec.restartAt = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
