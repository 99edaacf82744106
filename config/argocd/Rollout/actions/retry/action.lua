-- retry, as `ramp retry`: start an aborted update over.
if obj.status ~= nil then
  obj.status.abort = nil
end
return obj
