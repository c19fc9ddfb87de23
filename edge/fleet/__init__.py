"""Many devices together over MQTT: each camera publishes what it sees (and Home Assistant finds
it), a taught model reaches every device signed, and `watch` shows the fleet. paho-mqtt, in the
`mqtt` extra; the broker is any MQTT 3.1.1 one (Mosquitto on a Pi holds a shop's worth)."""
